"""MUSHRA listening tests (`--stage listening-test`): stimuli (`stimuli`), the webMUSHRA
configuration and its results (`webmushra`), and the folder written from a task (`build`)."""

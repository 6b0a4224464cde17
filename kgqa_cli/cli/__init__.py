"""The command line: Typer alone lives here; every command calls one library function."""

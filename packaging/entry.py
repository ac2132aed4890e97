"""Entry point of the frozen executable: the same click group as the `pufferd` console script."""
from pufferd.cli import main

if __name__ == "__main__":
    main(prog_name="pufferd")

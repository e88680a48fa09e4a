"""``python -m spinemets``: the same command line as the ``spinemets`` script."""

from spinemets.cli import main

if __name__ == "__main__":
    main()

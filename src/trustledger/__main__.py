"""``python -m trustledger``, and a file ``spark-submit`` can run as the driver."""

from trustledger.cli.app import main

if __name__ == "__main__":
    main()

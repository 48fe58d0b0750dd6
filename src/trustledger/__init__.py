"""trustledger: an accountable registry of credit records and reputation scores."""

__version__ = "0.1.0.dev0"

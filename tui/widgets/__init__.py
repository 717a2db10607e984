"""The dashboard's regions: account, hosters, unlock log."""

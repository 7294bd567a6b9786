"""The donation ledger's models arrive with the ledger issue (#4); see DESIGN "The ledger"."""

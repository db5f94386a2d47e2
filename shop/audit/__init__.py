"""The audit log: who changed money, stock, prices, people or vetting, when, from where."""

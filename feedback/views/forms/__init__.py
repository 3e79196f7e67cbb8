"""WTForms classes and their helpers; only views use them."""

"""Period reports: building a quarter's, half-year's or year's figures and writing them as XLSX
and PDF."""

"""The Patient page (page.py), in parts by job: pick.py (a held-out patient, the hard cases),
upload.py (uploads and the record form), prediction.py (the risk, the weights, the report),
attribution.py (the attribution panels) and what_if.py (editing record values)."""

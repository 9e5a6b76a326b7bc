"""The docs run as doctests; the page on Dask needs the optional Dask extra."""
import importlib.util

collect_ignore = [] if importlib.util.find_spec("dask") and importlib.util.find_spec("distributed") \
    else ["stacks-and-dask.md"]

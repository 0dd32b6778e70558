"""Measure reality: hardware microbenchmarks, real torch models timed against flopbill's predictions, an
OpenAI-compatible endpoint load generator, a local OpenAI-compatible server, and calibration of the
efficiency factors into a hardware profile (``--gpu ./PROFILE.yaml``).

torch, httpx, starlette and uvicorn are the optional extra ``flopbill[measure]``; the modules that need
them import them through :func:`flopbill.measure.deps.require`.
"""

"""Export to mobile and edge runtimes (ExecuTorch, Core ML, ONNX, PyTorch Lite), with parity checks.

Needs the ``export`` extra (``pip install 'litevid[export]'``); ``import litevid`` never imports
this package's runtimes.
"""

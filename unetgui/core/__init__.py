"""The pure core of unetgui: no Qt here, ever.

numpy, scipy, scikit-image and tifffile everywhere; torch only in the model, training
and prediction modules. The window, the command line and the tests all use this.
"""

// nn kernels

"""CUDA facts envdoctor reasons with before a build: which GPU architectures a CUDA release can compile for
(archs), and which architectures a compiled extension actually holds machine code for (fatbin)."""

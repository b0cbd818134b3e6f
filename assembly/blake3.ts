// BLAKE3 kernel: see issue 2.

// FastCDC-2020 kernel: see issue 2.

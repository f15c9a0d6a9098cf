{
  "targets": [
    {
      "target_name": "aead",
      "sources": ["aead.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-std=gnu11"],
      "ldflags": ["-Wl,--build-id=none"]
    }
  ]
}

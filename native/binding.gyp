{
  "targets": [
    {
      "target_name": "inheritune_native",
      "sources": ["src/addon.cc"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-O3", "-std=c++17", "-fno-math-errno", "-fno-trapping-math"],
      "conditions": [
        ["OS=='mac'", {
          "defines": ["INHERITUNE_ACCELERATE", "ACCELERATE_NEW_LAPACK"],
          "libraries": ["-framework Accelerate"],
          "xcode_settings": {"OTHER_CPLUSPLUSFLAGS": ["-O3", "-std=c++17"]}
        }, {
          "libraries": ["<!@(node openblas.mjs)"],
          "ldflags": ["-static-libgcc"]
        }]
      ]
    }
  ]
}

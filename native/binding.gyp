{
  "targets": [
    {
      "target_name": "inheritune_native",
      "sources": ["src/addon.cc"],
      # The arguments' version (server/engine/native/abi.json, which the loader checks): an addon built
      # from older sources is refused.
      "defines": ["INHERITUNE_ABI=<!(node -p \"require('../server/engine/native/abi.json').abi\")"],
      "cflags_cc!": ["-fno-exceptions"],
      # -ffp-contract=off: no fused multiply-adds, so that kernels that promise tfjs's results to the bit
      # (AdamW, attention, GELU) keep them where the target has FMA (arm64, or a -march build).
      "cflags_cc": ["-O3", "-std=c++17", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off"],
      "conditions": [
        ["OS=='mac'", {
          "defines": ["INHERITUNE_ACCELERATE", "ACCELERATE_NEW_LAPACK"],
          "libraries": ["-framework Accelerate"],
          "xcode_settings": {"OTHER_CPLUSPLUSFLAGS": ["-O3", "-std=c++17", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off"]}
        }, {
          "libraries": ["<!@(node openblas.mjs)"],
          "ldflags": ["-static-libgcc"]
        }]
      ]
    }
  ]
}

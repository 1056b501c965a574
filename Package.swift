// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "fer-live",
    products: [
        .executable(name: "fer-live", targets: ["fer-live"]),
        .library(name: "FERVision", targets: ["FERVision"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        // C libraries from Debian, reached through header shims only (no logic in C).
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CImageCodecs", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev", "libturbojpeg0-dev"])]),
        .systemLibrary(name: "CV4L2", pkgConfig: "libv4l2", providers: [.apt(["libv4l-dev"])]),
        .systemLibrary(name: "CFFmpeg", pkgConfig: "libavformat",
                       providers: [.apt(["libavformat-dev", "libavcodec-dev", "libswscale-dev", "libavutil-dev"])]),
        .systemLibrary(name: "CSDL2", pkgConfig: "SDL2_ttf", providers: [.apt(["libsdl2-dev", "libsdl2-ttf-dev"])]),
        // oneDNN (8-bit convolutions, kernels picked for the CPU at run time); Debian ships no pkg-config file.
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),
        // glibc's CPU affinity calls (pinning the two inference lanes on a 2-CPU machine).
        .systemLibrary(name: "CScheduler"),

        .target(
            name: "FERVision",
            dependencies: ["COpenBLAS", "CDNNL", "CScheduler", "CImageCodecs", "CV4L2", "CFFmpeg", .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                           .product(name: "Histogram", package: "hdrhistogram-swift")]
        ),
        // Test doubles (the in-memory V4L2 driver): for the tests only, never in a product.
        .target(name: "FERVisionTesting", dependencies: ["FERVision", "CV4L2"]),
        // The live window (SDL2 + SDL2_ttf): overlay layout, drawing, keys, the main-thread loop.
        .target(name: "FERWindow", dependencies: ["FERVision", "CSDL2"]),
        .executableTarget(
            name: "fer-live",
            dependencies: ["FERVision", "FERWindow", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // Fuzzing (tools/fuzz.sh builds it with libFuzzer); a plain build is its corpus runner.
        .executableTarget(name: "fer-fuzz", dependencies: ["FERVision", .product(name: "ZIPFoundation", package: "ZIPFoundation")],
                          path: "Sources/FERFuzz"),
        .testTarget(
            name: "FERVisionTests",
            dependencies: ["FERVision", "FERVisionTesting", "CV4L2", "CSDL2", .product(name: "ZIPFoundation", package: "ZIPFoundation")],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "FERLiveCLITests",
            dependencies: ["fer-live", "FERVision", "FERWindow"]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// swift-tools-version:6.0
import PackageDescription

// HyperField: personalize a compact latent diffusion model from a few
// photographs with a hypernetwork field. One SwiftPM target per layer of the
// design, so the compiler enforces the dependency arrows between them.
let package = Package(
    name: "HyperField",
    products: [
        .executable(name: "hyperfield", targets: ["hyperfield"]),
        .library(name: "TensorCore", targets: ["TensorCore"]),
        .library(name: "CommandLineKit", targets: ["CommandLineKit"]),
    ],
    targets: [
        // C libraries from Debian packages (installed by .ci/install-deps).
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .systemLibrary(
            name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
            providers: [.apt(["libpng-dev"])]),
        .systemLibrary(
            name: "CJPEG", path: "Sources/CJPEG", pkgConfig: "libjpeg",
            providers: [.apt(["libjpeg-dev"])]),
        // The project's C wrappers that turn libpng's and libjpeg's longjmp
        // errors into status codes that Swift can handle.
        .target(name: "CImageCodecs", dependencies: ["CPNG", "CJPEG"]),

        .target(
            name: "TensorCore",
            dependencies: ["CBLAS"]
        ),
        .target(
            name: "ImageIO",
            dependencies: ["CImageCodecs", "TensorCore"]
        ),
        .target(
            name: "Diffusion",
            dependencies: ["TensorCore"]
        ),
        // The hypernetwork field, its trainers, and adapter export and import.
        .target(
            name: "Personalization",
            dependencies: ["Diffusion", "TensorCore"]
        ),
        // Feature nets that score identity (CLIP-I-style and DINO-style), their
        // training objectives and the similarity scores.
        .target(
            name: "Metrics",
            dependencies: ["TensorCore", "ImageIO"]
        ),
        // Command-line options, help, progress and JSON output. Uses only Foundation.
        .target(name: "CommandLineKit"),
        .executableTarget(
            name: "hyperfield",
            dependencies: ["TensorCore", "ImageIO", "Diffusion", "Personalization", "Metrics", "CommandLineKit"]
        ),
        .executableTarget(
            name: "hyperfield-bench",
            dependencies: ["TensorCore", "Diffusion"],
            path: "bench/Sources"
        ),
        // The Swift side of the PyTorch peer benchmark (bench/peer/compare.py).
        .executableTarget(
            name: "hyperfield-bench-peer",
            dependencies: ["TensorCore", "Diffusion", "Personalization"],
            path: "bench/peer/swift"
        ),
        .executableTarget(
            name: "hyperfield-bench-imageio",
            dependencies: ["ImageIO"],
            path: "bench/ImageIO"
        ),

        // Helpers shared by the test targets (finite-difference checks).
        .target(name: "TestSupport", dependencies: ["TensorCore"], path: "Tests/TestSupport"),
        .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore", "TestSupport"]),
        .testTarget(
            name: "ImageIOTests",
            dependencies: ["ImageIO", "TensorCore"],
            exclude: ["Fixtures"]
        ),
        .testTarget(name: "DiffusionTests", dependencies: ["Diffusion", "TestSupport"]),
        .testTarget(name: "CommandLineKitTests", dependencies: ["CommandLineKit"]),
        // Python/ contains the interoperability script that the tests run with python3.
        .testTarget(
            name: "PersonalizationTests",
            dependencies: ["Personalization", "Diffusion", "TensorCore", "TestSupport"],
            exclude: ["Python"]
        ),
        .testTarget(name: "MetricsTests", dependencies: ["Metrics", "ImageIO", "TensorCore", "TestSupport"]),
    ]
)

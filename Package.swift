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

        .target(
            name: "TensorCore",
            dependencies: ["CBLAS"]
        ),
        // Command-line options, help, progress and JSON output. Uses only Foundation.
        .target(name: "CommandLineKit"),
        .executableTarget(
            name: "hyperfield",
            dependencies: ["TensorCore", "CommandLineKit"]
        ),
        .executableTarget(
            name: "hyperfield-bench",
            dependencies: ["TensorCore"],
            path: "bench/Sources"
        ),

        .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore"]),
        .testTarget(name: "CommandLineKitTests", dependencies: ["CommandLineKit"]),
    ]
)

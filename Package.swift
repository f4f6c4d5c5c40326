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
    ],
    targets: [
        // C libraries from Debian packages (installed by .ci/install-deps).
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),

        .target(
            name: "TensorCore",
            dependencies: ["CBLAS"]
        ),
        .target(
            name: "Diffusion",
            dependencies: ["TensorCore"]
        ),
        .executableTarget(
            name: "hyperfield",
            dependencies: ["TensorCore", "Diffusion"]
        ),
        .executableTarget(
            name: "hyperfield-bench",
            dependencies: ["TensorCore", "Diffusion"],
            path: "bench/Sources"
        ),

        // Helpers shared by the test targets (finite-difference checks).
        .target(name: "TestSupport", dependencies: ["TensorCore"], path: "Tests/TestSupport"),
        .testTarget(name: "TensorCoreTests", dependencies: ["TensorCore", "TestSupport"]),
        .testTarget(name: "DiffusionTests", dependencies: ["Diffusion", "TestSupport"]),
    ]
)

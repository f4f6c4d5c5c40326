// Benchmark of the image I/O hot path: decode a 1024x1024 JPEG and prepare a
// 64x64 model input from it (center crop, resize).
//
// Run: swift run -c release hyperfield-bench-imageio [--iterations N]
//
// The JPEG is synthetic so that the benchmark needs no data files: smooth
// colour gradients, hard-edged shapes and Gaussian noise (standard deviation
// 6 levels), encoded at quality 85 with 4:2:0 chroma like a phone photo.
import Foundation
import ImageIO
import TensorCore

struct Timing {
    let label: String
    let milliseconds: [Double]

    var median: Double {
        let sorted = milliseconds.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    var line: String {
        String(
            format: "%@: median %.2f ms, min %.2f ms, max %.2f ms over %d runs", label, median,
            milliseconds.min()!, milliseconds.max()!, milliseconds.count)
    }
}

func makeTestPhoto(side: Int, seed: UInt64) -> RGBImage {
    var generator = SeededGenerator(seed: seed)
    var image = RGBImage(width: side, height: side, color: .black)
    let scale = Float(side)
    for y in 0..<side {
        for x in 0..<side {
            let u = Float(x) / scale
            let v = Float(y) / scale
            var red = 80 + 120 * u
            var green = 60 + 100 * v + 40 * sinf(6 * u)
            var blue = 140 - 80 * u * v
            // A bright disc and a dark bar give edges for the DCT to code.
            let dx = u - 0.4
            let dy = v - 0.45
            if dx * dx + dy * dy < 0.04 {
                red += 70
                green += 50
                blue -= 40
            }
            if u > 0.7 && u < 0.8 {
                red *= 0.3
                green *= 0.3
                blue *= 0.3
            }
            func channel(_ value: Float) -> UInt8 {
                UInt8(clamping: Int((value + 6 * generator.normal()).rounded()))
            }
            image[x, y] = RGBColor(red: channel(red), green: channel(green), blue: channel(blue))
        }
    }
    return image
}

func measure(_ label: String, iterations: Int, _ body: () throws -> Void) rethrows -> Timing {
    // Two untimed runs warm the caches and the allocator.
    try body()
    try body()
    var samples: [Double] = []
    for _ in 0..<iterations {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
    }
    return Timing(label: label, milliseconds: samples)
}

func parseIterations(_ arguments: [String]) -> Int {
    guard let index = arguments.firstIndex(of: "--iterations") else { return 50 }
    guard index + 1 < arguments.count, let count = Int(arguments[index + 1]), count > 0 else {
        FileHandle.standardError.write(Data("--iterations expects a positive integer, such as --iterations 50\n".utf8))
        exit(2)
    }
    return count
}

let iterations = parseIterations(CommandLine.arguments)
let photo = makeTestPhoto(side: 1024, seed: 7)
let jpeg = try ImageEncoder.encodeJPEG(photo, options: JPEGEncodeOptions(quality: 85))
print("input: 1024x1024 JPEG, \(jpeg.count) bytes, quality 85, 4:2:0")
print("threads: 1 (decoding and resizing run on the calling thread)")

let scaled = ImagePreparation(resolution: 64)
var fullSize = ImagePreparation(resolution: 64)
fullSize.usesJPEGScaling = false

let timings = [
    try measure("decode + resize to 64x64, DCT scaling on (default)", iterations: iterations) {
        _ = try scaled.load(jpeg, path: "<benchmark>")
    },
    try measure("decode + resize to 64x64, DCT scaling off", iterations: iterations) {
        _ = try fullSize.load(jpeg, path: "<benchmark>")
    },
    try measure("decode only, full size", iterations: iterations) {
        _ = try ImageDecoder.decode(jpeg, path: "<benchmark>")
    },
]
for timing in timings {
    print(timing.line)
}

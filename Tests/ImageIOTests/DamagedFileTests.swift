import ImageIO
import TensorCore
import XCTest

/// Randomly damaged files must decode or throw `ImageIOError`. A crash, or
/// libjpeg's default exit() on error, would end the test process instead.
final class DamagedFileTests: XCTestCase {
    private func damagedVariants(of bytes: [UInt8], count: Int, seed: UInt64) -> [[UInt8]] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { index in
            var damaged = bytes
            if index % 3 == 0 {
                damaged = Array(damaged.prefix(generator.integer(in: 0..<bytes.count)))
            }
            let flips = 1 + generator.integer(in: 0..<8)
            for _ in 0..<flips where !damaged.isEmpty {
                // Bytes 0..<4 stay intact, so the format is still recognized.
                let position = min(damaged.count - 1, 4 + generator.integer(in: 0..<max(1, damaged.count - 4)))
                damaged[position] = UInt8(truncatingIfNeeded: generator.next())
            }
            return damaged
        }
    }

    private func assertDecodesOrThrows(_ variants: [[UInt8]], format: String) {
        var failures = 0
        for (index, bytes) in variants.enumerated() {
            do {
                _ = try ImageDecoder.decode(bytes, path: "\(format) variant \(index)", options: tinyImageOptions)
            } catch is ImageIOError {
                failures += 1
            } catch {
                XCTFail("\(format) variant \(index) threw \(error), expected an ImageIOError")
            }
        }
        XCTAssertGreaterThan(failures, 0, "some damaged \(format) variants must be rejected")
    }

    func testDamagedPNGsNeverCrash() throws {
        var image = RGBImage(width: 24, height: 24, color: .white)
        for index in 0..<image.pixels.count { image.pixels[index] = UInt8((index * 37) % 256) }
        assertDecodesOrThrows(damagedVariants(of: try ImageEncoder.encodePNG(image), count: 300, seed: 11), format: "PNG")
    }

    func testDamagedJPEGsNeverCrash() throws {
        var image = RGBImage(width: 24, height: 24, color: .white)
        for index in 0..<image.pixels.count { image.pixels[index] = UInt8((index * 53) % 256) }
        let baseline = try ImageEncoder.encodeJPEG(image)
        let progressive = try ImageEncoder.encodeJPEG(image, options: JPEGEncodeOptions(progressive: true))
        assertDecodesOrThrows(damagedVariants(of: baseline, count: 300, seed: 12), format: "baseline JPEG")
        assertDecodesOrThrows(damagedVariants(of: progressive, count: 300, seed: 13), format: "progressive JPEG")
    }
}

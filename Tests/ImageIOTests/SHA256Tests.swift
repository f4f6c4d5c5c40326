import ImageIO
import XCTest

/// Expected digests come from Python's hashlib, for example
/// `python3 -c "import hashlib; print(hashlib.sha256(b'abc').hexdigest())"`.
final class SHA256Tests: XCTestCase {
    func testEmptyMessage() {
        XCTAssertEqual(
            SHA256.hexDigest(of: [UInt8]()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    func testABC() {
        XCTAssertEqual(
            SHA256.hexDigest(of: Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    func testTwoBlockMessage() {
        let message = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
        XCTAssertEqual(
            SHA256.hexDigest(of: Array(message.utf8)), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    func testMillionAsInPiecesMatchesOneShot() {
        var hasher = SHA256()
        let piece = [UInt8](repeating: 0x61, count: 1000)
        for _ in 0..<1000 {
            hasher.update(piece[0..<999])
            hasher.update(piece[999...])
        }
        let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        XCTAssertEqual(digest, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testPaddingBoundaries() {
        // Lengths around the 56-byte padding boundary must all differ.
        let digests = (54...66).map { SHA256.hexDigest(of: [UInt8](repeating: 0, count: $0)) }
        XCTAssertEqual(Set(digests).count, digests.count)
        XCTAssertEqual(
            SHA256.hexDigest(of: [UInt8](repeating: 0, count: 64)),
            "f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b")
    }
}

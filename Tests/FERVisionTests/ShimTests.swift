import CSDL2
import CV4L2
import XCTest

/// The C shims for the capture and window layers compile, link and expose the macro constants Swift
/// cannot see on its own.
final class ShimTests: XCTestCase {
    func testV4L2ConstantsMatchTheKernelABI() {
        // _IOR('V', 0, struct v4l2_capability): the 104-byte struct in bits 16-29.
        XCTAssertEqual(CV4L2_VIDIOC_QUERYCAP, 0x8068_5600)
        XCTAssertEqual(CV4L2_PIX_FMT_YUV420, 0x3231_5559)  // 'YU12'
        XCTAssertEqual(MemoryLayout<v4l2_capability>.size, 104)
    }

    func testSDLLinksAndReportsItsVersion() {
        var version = SDL_version()
        SDL_GetVersion(&version)
        XCTAssertEqual(version.major, 2)
        XCTAssertNotNil(TTF_Linked_Version())
    }
}

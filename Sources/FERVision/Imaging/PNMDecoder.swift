/// PGM and PPM (Netpbm), binary (P5, P6) and plain text (P2, P3), decoded from the bytes in memory.
///
/// Samples with a maximum other than 255 are scaled to 8 bits with rounding, as libjpeg-turbo's loader
/// does. Every header number is checked, and the size against `ImageDecoder.maximumPixels`, before the
/// raster is allocated.
enum PNMDecoder {
    static func decode(_ data: [UInt8], path: String) throws(ImageError) -> ByteImage {
        var reader = Reader(bytes: data)
        func corrupt(_ detail: String) -> ImageError { ImageError(.corrupt, path: path, "corrupt PGM/PPM (\(detail))") }
        guard data.count >= 2, data[0] == UInt8(ascii: "P") else { throw corrupt("no P2, P3, P5 or P6 signature") }
        let kind = data[1]
        let channels = kind == UInt8(ascii: "3") || kind == UInt8(ascii: "6") ? 3 : 1
        let plain = kind == UInt8(ascii: "2") || kind == UInt8(ascii: "3")
        reader.position = 2
        guard let width = reader.number(), let height = reader.number(), let maximum = reader.number() else {
            throw corrupt("the header's width, height and maximum value are not all numbers")
        }
        guard (1...65535).contains(maximum) else { throw corrupt("maximum value \(maximum) is not 1...65535") }
        if let refusal = ImageDecoder.sizeRefusal(width: width, height: height, path: path) { throw refusal }
        let count = width * height * channels
        var pixels = [UInt8](repeating: 0, count: count)
        func scaled(_ value: Int) -> UInt8 { UInt8(maximum == 255 ? value : (value * 255 + maximum / 2) / maximum) }
        if plain {
            for i in 0..<count {
                guard let value = reader.number(), value <= maximum else { throw corrupt("sample \(i) of \(count) is missing or above \(maximum)") }
                pixels[i] = scaled(value)
            }
        } else {
            // One whitespace byte separates the header from the raster.
            reader.position += 1
            let bytesPerSample = maximum < 256 ? 1 : 2
            guard reader.position <= data.count, data.count - reader.position >= count * bytesPerSample else {
                throw corrupt("the raster ends early (\(max(0, data.count - reader.position)) of \(count * bytesPerSample) bytes)")
            }
            for i in 0..<count {
                let at = reader.position + i * bytesPerSample
                let value = bytesPerSample == 1 ? Int(data[at]) : Int(data[at]) << 8 | Int(data[at + 1])
                guard value <= maximum else { throw corrupt("sample \(i) is above the maximum \(maximum)") }
                pixels[i] = scaled(value)
            }
        }
        return ByteImage(width: width, height: height, channels: channels, pixels: pixels)
    }

    /// Header and plain-text tokens: decimal numbers separated by whitespace, `#` comments to the line's end.
    private struct Reader {
        let bytes: [UInt8]
        var position = 0

        /// The next non-negative decimal number, or nil (not a number, or more than 9 digits).
        mutating func number() -> Int? {
            while position < bytes.count {
                let byte = bytes[position]
                if byte == UInt8(ascii: "#") {
                    while position < bytes.count, bytes[position] != 0x0A, bytes[position] != 0x0D { position += 1 }
                } else if byte == 0x20 || (0x09...0x0D).contains(byte) {
                    position += 1
                } else {
                    break
                }
            }
            var value = 0, digits = 0
            while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) {
                value = value * 10 + Int(bytes[position] - UInt8(ascii: "0"))
                digits += 1
                position += 1
                if digits > 9 { return nil }
            }
            return digits > 0 ? value : nil
        }
    }
}

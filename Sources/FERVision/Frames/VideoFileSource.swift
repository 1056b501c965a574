import CFFmpeg
import Foundation

/// A video file (whatever Debian's FFmpeg libraries decode: mp4, mkv, webm, avi, mov, ...) replayed like a
/// live stream: every decoded frame of its first video stream, in order, as 8-bit grayscale (the
/// luma, converted by libswscale) and, when asked, its colour as full-range 4:2:0 chroma, stamped with its
/// presentation time in seconds from the stream's start.
///
/// Owns every FFmpeg handle (opened in init, freed in deinit); decoding uses FFmpeg's own threads
/// (`threads`). A file that ends in damage delivers the frames before it, then throws from `nextFrame`,
/// so a run writes everything up to the damage and reports it.
///
/// Thread safety: one thread at a time (the pipeline's capture thread).
public final class VideoFileSource: FrameSource {
    public let name: String
    public private(set) var skipped = SkippedFrames()
    /// The path as given, named in every frame (`Frame.sourceName`) and error.
    public let path: String
    public let width: Int, height: Int
    /// The codec's name, as FFmpeg calls it (h264, vp9, ffv1, ...).
    public let codecName: String
    /// The stream's length in seconds, when the file says.
    public let duration: Double?
    /// The stream's average frame rate, when the file says.
    public let frameRate: Double?
    /// Where on the stream to begin, and how much to play (nil: to the end).
    public let start: StreamTime, length: StreamTime?
    /// Whether frames carry their colour (`Frame.chroma`) besides the luma.
    public let color: Bool

    /// Every FFmpeg handle, freed when the last reference goes (also when init throws halfway).
    private final class Handles {
        var format: UnsafeMutablePointer<AVFormatContext>?
        var codec: UnsafeMutablePointer<AVCodecContext>?
        var scaler: OpaquePointer?
        var packet = av_packet_alloc()
        var frame = av_frame_alloc()

        deinit {
            av_packet_free(&packet)
            av_frame_free(&frame)
            if scaler != nil { sws_freeContext(scaler) }
            if codec != nil { avcodec_free_context(&codec) }
            if format != nil { avformat_close_input(&format) }
        }
    }

    private let handles = Handles()
    private let format: UnsafeMutablePointer<AVFormatContext>
    private let codec: UnsafeMutablePointer<AVCodecContext>
    private let packet: UnsafeMutablePointer<AVPacket>
    private let decoded: UnsafeMutablePointer<AVFrame>
    private let streamIndex: Int32
    private let timeBase: AVRational
    private let startTime: Int64
    private var sequence = 0
    private var draining = false, finished = false
    private var lastTimestamp: StreamTime?
    private var end = DemuxerEnd()
    /// Reading began with a seek (`start`), so packets before it were never read.
    private var seeked = false

    /// Opens `path` and its first video stream's decoder. Throws, naming the file and FFmpeg's reason,
    /// when it is missing, not a media file, has no video stream, or its codec cannot be decoded. `color`
    /// adds each frame's colour (for a window or a recording; the pipeline reads only the luma).
    public init(path: String, start: StreamTime = .zero, length: StreamTime? = nil, threads: Int = 2, color: Bool = false) throws(DatasetError) {
        self.path = path
        self.color = color
        self.start = max(.zero, start)
        self.length = length
        name = path
        FFmpegLog.silence()
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw DatasetError(path: path, FileManager.default.fileExists(atPath: path) ? "cannot be read" : "no such file")
        }
        guard let packet = handles.packet, let decoded = handles.frame else { throw DatasetError(path: path, "out of memory") }
        self.packet = packet
        self.decoded = decoded
        var status = avformat_open_input(&handles.format, path, nil, nil)
        guard status >= 0, let format = handles.format else {
            throw DatasetError(path: path, "not a video FFmpeg can read (\(Self.message(status)))")
        }
        self.format = format
        status = avformat_find_stream_info(format, nil)
        let index = av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0)
        guard status >= 0, index >= 0, let stream = format.pointee.streams[Int(index)] else {
            throw DatasetError(path: path, status < 0 ? "its streams cannot be read (\(Self.message(status)))" : "has no video stream")
        }
        streamIndex = index
        let parameters = stream.pointee.codecpar!
        timeBase = stream.pointee.time_base
        guard timeBase.num > 0, timeBase.den > 0 else { throw DatasetError(path: path, "has no valid time base (\(timeBase.num)/\(timeBase.den))") }
        startTime = stream.pointee.start_time == CFFmpeg_AV_NOPTS_VALUE ? 0 : stream.pointee.start_time
        width = Int(parameters.pointee.width)
        height = Int(parameters.pointee.height)
        codecName = String(cString: avcodec_get_name(parameters.pointee.codec_id))
        duration = stream.pointee.duration > 0 ? Double(stream.pointee.duration) * av_q2d(timeBase)
            : format.pointee.duration > 0 ? Double(format.pointee.duration) / Double(CFFmpeg_AV_TIME_BASE) : nil
        let rate = av_q2d(stream.pointee.avg_frame_rate)
        frameRate = rate.isFinite && rate > 0 ? rate : nil
        guard let decoder = avcodec_find_decoder(parameters.pointee.codec_id) else {
            throw DatasetError(path: path, "its video codec \(codecName) cannot be decoded by this FFmpeg")
        }
        handles.codec = avcodec_alloc_context3(decoder)
        guard let codec = handles.codec else { throw DatasetError(path: path, "out of memory") }
        self.codec = codec
        codec.pointee.thread_count = Int32(max(1, threads))
        status = avcodec_parameters_to_context(codec, parameters)
        if status >= 0 { status = avcodec_open2(codec, decoder, nil) }
        guard status >= 0 else { throw DatasetError(path: path, "cannot open the \(codecName) decoder (\(Self.message(status)))") }
        guard width > 0, height > 0, ImageDecoder.sizeRefusal(width: width, height: height, path: path) == nil else {
            throw DatasetError(path: path, "has frames of \(width)x\(height), which fer-live does not decode")
        }
        for (i, other) in (0..<Int(format.pointee.nb_streams)).compactMap({ format.pointee.streams[$0] }).enumerated() where i != Int(index) {
            other.pointee.discard = AVDISCARD_ALL   // audio and other streams are never decoded
        }
        if self.start > .zero {
            // Seek to the key frame before the start; frames before it are decoded and dropped. A start
            // beyond what the stream's ticks can count is past its end: nothing is played.
            guard let ticks = self.start.ticks(numerator: timeBase.num, denominator: timeBase.den),
                  case (let target, false) = ticks.addingReportingOverflow(startTime) else {
                finished = true
                return
            }
            seeked = av_seek_frame(format, index, target, AVSEEK_FLAG_BACKWARD) >= 0
        }
    }

    /// The next decoded frame (nil at the end of the stream or of `length`); throws when the file is
    /// damaged, after every frame before the damage was delivered.
    public func nextFrame() throws -> Frame? {
        while !finished {
            guard let next = try decodeNext() else { finished = true; return nil }
            let (luma, chroma, timestamp) = next
            if timestamp < start { continue }
            if let length, timestamp >= start + length { finished = true; return nil }
            defer { sequence += 1 }
            return Frame(sequence: sequence, timestamp: timestamp.seconds, image: ByteImage(width: width, height: height, pixels: luma),
                         chroma: chroma, sourceName: path)
        }
        return nil
    }

    /// Reads packets and decodes until a frame comes out: its gray pixels and presentation time.
    private func decodeNext() throws -> (luma: [UInt8], chroma: ChromaPlanes?, time: StreamTime)? {
        while true {
            let received = avcodec_receive_frame(codec, decoded)
            if received >= 0 {
                defer { av_frame_unref(decoded) }
                let (luma, chroma) = try picture(decoded)
                return (luma, chroma, timestamp(of: decoded))
            }
            if received == CFFmpeg_AVERROR_EOF { return try endOfStream() }
            guard received == CFFmpeg_AVERROR_EAGAIN() else {
                throw DatasetError(path: path, "damaged after frame \(sequence) (\(Self.message(received)))")
            }
            if draining { return try endOfStream() }
            let read = av_read_frame(format, packet)
            if read == CFFmpeg_AVERROR_EOF {
                draining = true
                avcodec_send_packet(codec, nil)   // flush: the decoder gives up the frames it holds
                continue
            }
            guard read >= 0 else { throw DatasetError(path: path, "damaged after frame \(sequence) (\(Self.message(read)))") }
            defer { av_packet_unref(packet) }
            guard packet.pointee.stream_index == streamIndex else { continue }
            end.note(packet, startTime: startTime)
            let sent = avcodec_send_packet(codec, packet)
            guard sent >= 0 || sent == CFFmpeg_AVERROR_EAGAIN() else {
                throw DatasetError(path: path, "damaged after frame \(sequence) (\(Self.message(sent)))")
            }
        }
    }

    /// The end: clean, or a file cut short as the demuxer's status tells (`DemuxerEnd`), thrown after every
    /// frame before the cut was delivered.
    private func endOfStream() throws -> (luma: [UInt8], chroma: ChromaPlanes?, time: StreamTime)? {
        if let stream = format.pointee.streams[Int(streamIndex)],
           let damage = end.damage(format: format, stream: stream, fromStart: !seeked) {
            throw DatasetError(path: path, "damaged after frame \(sequence) (\(damage))")
        }
        return nil
    }

    /// The time from the stream's start: the frame's best-effort presentation time, or one frame after the
    /// last where the file gives none or one out of range (a damaged or hostile file's ticks).
    private func timestamp(of frame: UnsafeMutablePointer<AVFrame>) -> StreamTime {
        let pts = frame.pointee.best_effort_timestamp
        let interval = StreamTime.frameInterval(framesPerSecond: frameRate ?? 30)
        var time: StreamTime?
        if pts != CFFmpeg_AV_NOPTS_VALUE, case (let ticks, false) = pts.subtractingReportingOverflow(startTime) {
            time = StreamTime(ticks: ticks, numerator: timeBase.num, denominator: timeBase.den)
        }
        let next = time ?? lastTimestamp.map { $0 + interval } ?? .zero
        lastTimestamp = next
        return next
    }

    /// The frame's luma as 8-bit gray, and its colour when `color` asked for it and the frame has any,
    /// through libswscale (which handles every pixel format and range). Both are full range: the luma is
    /// what a conversion to gray gives, with or without colour, so asking for colour never changes a result.
    private func picture(_ frame: UnsafeMutablePointer<AVFrame>) throws -> (luma: [UInt8], chroma: ChromaPlanes?) {
        guard Int(frame.pointee.width) == width, Int(frame.pointee.height) == height else {
            throw DatasetError(path: path, "frame \(sequence) is \(frame.pointee.width)x\(frame.pointee.height), the stream \(width)x\(height)")
        }
        let source = Self.pixelFormat(of: frame)
        let withColor = color && (av_pix_fmt_desc_get(source)?.pointee.nb_components ?? 1) >= 3
        let chromaWidth = (width + 1) / 2, chromaHeight = (height + 1) / 2
        handles.scaler = sws_getCachedContext(handles.scaler, Int32(width), Int32(height), source, Int32(width), Int32(height),
                                              withColor ? AV_PIX_FMT_YUVJ420P : AV_PIX_FMT_GRAY8, SWS_POINT, nil, nil, nil)
        guard let scaler = handles.scaler else { throw DatasetError(path: path, "cannot convert its pixel format to gray") }
        // libswscale writes its rows in blocks: for frames 1 to 5 pixels wide (a hostile file's, found by
        // fuzzing) the last row ran up to 13 bytes past a tight buffer, into the heap. Room for that, cut after.
        var luma = [UInt8](repeating: 0, count: width * height + Self.scalerOverrun)
        var u = [UInt8](repeating: 0, count: withColor ? chromaWidth * chromaHeight + Self.scalerOverrun : 0), v = u
        let converted = luma.withUnsafeMutableBufferPointer { lumaTarget in
            u.withUnsafeMutableBufferPointer { uTarget in
                v.withUnsafeMutableBufferPointer { vTarget -> Int32 in
                    var planes: [UnsafeMutablePointer<UInt8>?] = [lumaTarget.baseAddress, uTarget.baseAddress, vTarget.baseAddress, nil]
                    var strides: [Int32] = [Int32(width), withColor ? Int32(chromaWidth) : 0, withColor ? Int32(chromaWidth) : 0, 0]
                    return withUnsafePointer(to: &frame.pointee.data) { data in
                        withUnsafePointer(to: &frame.pointee.linesize) { lines in
                            data.withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: 8) { source in
                                lines.withMemoryRebound(to: Int32.self, capacity: 8) { sourceStrides in
                                    sws_scale(scaler, source, sourceStrides, 0, Int32(height), &planes, &strides)
                                }
                            }
                        }
                    }
                }
            }
        }
        guard converted == Int32(height) else { throw DatasetError(path: path, "frame \(sequence) could not be converted to gray") }
        luma.removeLast(Self.scalerOverrun)
        guard withColor else { return (luma, nil) }
        u.removeLast(Self.scalerOverrun)
        v.removeLast(Self.scalerOverrun)
        return (luma, ChromaPlanes(lumaWidth: width, lumaHeight: height, u: u, v: v))
    }

    /// The frame's pixel format as libswscale must read it: planar YUV that the frame marks as full range
    /// (a colour recording's FFV1, a phone's video) is read as the full-range (JPEG) variant, which
    /// libswscale tells only by the format; read as limited range its luma would be stretched a second time.
    private static func pixelFormat(of frame: UnsafeMutablePointer<AVFrame>) -> AVPixelFormat {
        let format = AVPixelFormat(frame.pointee.format)
        guard frame.pointee.color_range == AVCOL_RANGE_JPEG else { return format }
        switch format {
        case AV_PIX_FMT_YUV420P: return AV_PIX_FMT_YUVJ420P
        case AV_PIX_FMT_YUV422P: return AV_PIX_FMT_YUVJ422P
        case AV_PIX_FMT_YUV444P: return AV_PIX_FMT_YUVJ444P
        case AV_PIX_FMT_YUV440P: return AV_PIX_FMT_YUVJ440P
        default: return format
        }
    }

    /// Bytes libswscale may write past the end of its output (13 measured, for the narrowest frames).
    static let scalerOverrun = 64

    /// FFmpeg's words for an error code.
    static func message(_ code: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        av_strerror(code, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// FFmpeg's own log, silenced: what goes wrong reaches the user as one line from the return codes and
/// the demuxer's status (`DemuxerEnd`), never as FFmpeg's messages on the terminal.
enum FFmpegLog {
    /// Silences FFmpeg's log (a store of one level: cheap to repeat).
    static func silence() { av_log_set_level(AV_LOG_QUIET) }
}

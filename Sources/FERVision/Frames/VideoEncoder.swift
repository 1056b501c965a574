import CFFmpeg
import Foundation

/// Writes images into a video file through libavcodec and libavformat: lossless FFV1 in Matroska
/// (recordings that replay bit for bit, gray or in colour) or H.264 in MP4 (annotated videos to share; MPEG-4 Part 2 where
/// this FFmpeg has no H.264 encoder). Each image carries its time (milliseconds from the first, the
/// containers' resolution). Owns every FFmpeg handle; `finish` writes the container's index.
///
/// Not thread-safe: one writer at a time (a sink on the pipeline's sink queue).
public final class VideoEncoder {
    public enum Kind: Sendable {
        /// FFV1 in Matroska, exactly the pixels given: 8-bit gray, or full-range YUV 4:2:0 when the first
        /// frame comes with its colour (the luma as the Y plane, so a replay reads the same gray).
        case lossless
        /// H.264 (or MPEG-4) from RGB, yuv420p, MP4: small files any player opens.
        case shareable
    }

    public let path: String
    public let kind: Kind
    /// Frame size in the file (an image of another size is an error; shareable sizes are rounded up to even).
    public private(set) var width = 0, height = 0
    private var inputWidth = 0, inputHeight = 0
    private let handles = Handles()
    private var firstTimestamp: Double?
    /// Frames' own times on one line across the inputs of a run (each input's clock starts again).
    private var clock = StreamClock()
    private var lastPTS: Int64 = -1
    /// Milliseconds between the last two frames: each packet's duration, so the container's length
    /// covers the last frame too (MP4's edit list would otherwise cut it).
    private var interval: Int64 = 33
    private var opened = false, finished = false
    /// A lossless recording in colour (its first frame had colour).
    private var isColor = false

    private final class Handles {
        var format: UnsafeMutablePointer<AVFormatContext>?
        var codec: UnsafeMutablePointer<AVCodecContext>?
        var stream: UnsafeMutablePointer<AVStream>?
        var scaler: OpaquePointer?
        var frame = av_frame_alloc()
        var packet = av_packet_alloc()

        deinit {
            av_frame_free(&frame)
            av_packet_free(&packet)
            if scaler != nil { sws_freeContext(scaler) }
            if codec != nil { avcodec_free_context(&codec) }
            if let format {
                if format.pointee.pb != nil { avio_closep(&format.pointee.pb) }
                avformat_free_context(format)
            }
        }
    }

    /// Checks now that `path` can be written; the encoder opens with the first image, whose size it takes.
    public init(path: String, kind: Kind) throws(DatasetError) {
        self.path = path
        self.kind = kind
        FFmpegLog.silence()
        guard FileManager.default.createFile(atPath: path, contents: nil) else { throw DatasetError(path: path, "cannot be written") }
    }

    /// Adds `image` (gray with its `chroma` or none for lossless, RGB or gray for shareable) shown at
    /// `timestamp` seconds. A lossless recording in colour takes a frame without colour as gray.
    public func append(_ image: ByteImage, chroma: ChromaPlanes? = nil, timestamp: Double, label: String) throws(DatasetError) {
        if !opened { try open(width: image.width, height: image.height, color: kind == .lossless && chroma != nil) }
        guard image.width == inputWidth, image.height == inputHeight else {
            throw DatasetError(path: path, "\(label) is \(image.width)x\(image.height), the recording \(inputWidth)x\(inputHeight)")
        }
        guard let frame = handles.frame else { throw DatasetError(path: path, "out of memory") }
        let continued = clock.continued(timestamp)
        let start = firstTimestamp ?? continued
        firstTimestamp = start
        guard let time = StreamTime(seconds: continued - start), let milliseconds = time.ticks(numerator: 1, denominator: 1000) else {
            throw DatasetError(path: path, "\(label) is at \(timestamp) s, out of the range a recording can hold")
        }
        // Strictly increasing, as the containers need, even for two frames within a millisecond.
        let pts = max(lastPTS + 1, milliseconds)
        if lastPTS >= 0 { interval = pts - lastPTS }
        lastPTS = pts
        try check(av_frame_make_writable(frame), "cannot prepare a frame")
        switch kind {
        case .lossless:
            copy(image.grayscale().pixels, width: width, height: height, into: frame.pointee.data.0!, stride: frame.pointee.linesize.0)
            if isColor {
                let planes = chroma ?? .neutral(lumaWidth: width, lumaHeight: height)
                copy(planes.u, width: planes.width, height: planes.height, into: frame.pointee.data.1!, stride: frame.pointee.linesize.1)
                copy(planes.v, width: planes.width, height: planes.height, into: frame.pointee.data.2!, stride: frame.pointee.linesize.2)
            }
        case .shareable:
            try convertToYUV(image, into: frame)
        }
        frame.pointee.pts = pts
        try encode(frame)
    }

    /// Flushes the encoder and writes the container's index; nothing may be appended afterwards.
    public func finish() throws(DatasetError) {
        guard opened, !finished else { return }
        finished = true
        try encode(nil)
        try check(av_write_trailer(handles.format), "cannot finish the file")
        try check(avio_closep(&handles.format!.pointee.pb), "cannot close the file")
        // The encoder's own threads (x264 runs some) end here, not whenever this object goes: the
        // pipeline may be held until the process exits.
        avcodec_free_context(&handles.codec)
    }

    private func open(width: Int, height: Int, color: Bool) throws(DatasetError) {
        inputWidth = width
        inputHeight = height
        isColor = color
        let container: String, encoder: UnsafePointer<AVCodec>?, pixelFormat: AVPixelFormat
        switch kind {
        case .lossless:
            (self.width, self.height) = (width, height)
            (container, encoder, pixelFormat) = ("matroska", avcodec_find_encoder(AV_CODEC_ID_FFV1), color ? AV_PIX_FMT_YUV420P : AV_PIX_FMT_GRAY8)
        case .shareable:
            (self.width, self.height) = ((width + 1) / 2 * 2, (height + 1) / 2 * 2)
            (container, encoder, pixelFormat) = ("mp4", avcodec_find_encoder(AV_CODEC_ID_H264) ?? avcodec_find_encoder(AV_CODEC_ID_MPEG4),
                                                 AV_PIX_FMT_YUV420P)
        }
        try check(avformat_alloc_output_context2(&handles.format, nil, container, path), "cannot start the \(container) file")
        guard let format = handles.format, let encoder else { throw DatasetError(path: path, "this FFmpeg has no encoder for it") }
        handles.stream = avformat_new_stream(format, nil)
        handles.codec = avcodec_alloc_context3(encoder)
        guard let stream = handles.stream, let codec = handles.codec, let frame = handles.frame else {
            throw DatasetError(path: path, "out of memory")
        }
        codec.pointee.width = Int32(self.width)
        codec.pointee.height = Int32(self.height)
        codec.pointee.pix_fmt = pixelFormat
        // Full range, said in the file: a replay reads the Y plane as the gray it was, not stretched again.
        if color { codec.pointee.color_range = AVCOL_RANGE_JPEG }
        codec.pointee.time_base = AVRational(num: 1, den: 1000)
        codec.pointee.thread_count = 2
        if kind == .shareable {
            codec.pointee.gop_size = 60
            codec.pointee.bit_rate = 0
            codec.pointee.global_quality = 0
            av_opt_set(codec.pointee.priv_data, "crf", "23", 0)          // H.264's default quality
            av_opt_set(codec.pointee.priv_data, "preset", "veryfast", 0)
        }
        if format.pointee.oformat.pointee.flags & AVFMT_GLOBALHEADER != 0 { codec.pointee.flags |= Int32(AV_CODEC_FLAG_GLOBAL_HEADER) }
        try check(avcodec_open2(codec, encoder, nil), "cannot open the \(String(cString: encoder.pointee.name)) encoder")
        try check(avcodec_parameters_from_context(stream.pointee.codecpar, codec), "cannot set the stream up")
        stream.pointee.time_base = codec.pointee.time_base
        try check(avio_open(&format.pointee.pb, path, AVIO_FLAG_WRITE), "cannot be written")
        // A fragmented MP4 (a fragment from each keyframe, the index first and empty) plays up to its last
        // whole fragment even when the process is killed before the trailer, where a plain MP4 without its
        // index at the end does not play at all.
        var options: OpaquePointer?
        defer { av_dict_free(&options) }
        if kind == .shareable {
            av_dict_set(&options, "movflags", "frag_keyframe+empty_moov+default_base_moof", 0)
            // Each fragment reaches the file when it is written, not when I/O's buffer fills.
            av_dict_set(&options, "flush_packets", "1", 0)
        }
        try check(avformat_write_header(format, &options), "cannot write the file's header")
        frame.pointee.format = pixelFormat.rawValue
        frame.pointee.width = Int32(self.width)
        frame.pointee.height = Int32(self.height)
        try check(av_frame_get_buffer(frame, 0), "out of memory")
        opened = true
    }

    /// `height` rows of `width` samples into a plane of `stride` bytes per row.
    private func copy(_ samples: [UInt8], width: Int, height: Int, into plane: UnsafeMutablePointer<UInt8>, stride: Int32) {
        samples.withUnsafeBufferPointer { source in
            for y in 0..<height { (plane + y * Int(stride)).update(from: source.baseAddress! + y * width, count: width) }
        }
    }

    /// RGB (or gray) into the frame's YUV 4:2:0 planes through libswscale; an odd last row or column is
    /// repeated to fill the even size.
    private func convertToYUV(_ image: ByteImage, into frame: UnsafeMutablePointer<AVFrame>) throws(DatasetError) {
        var rgb = image.channels == 3 ? image.pixels : image.pixels.flatMap { [$0, $0, $0] }
        if width != image.width || height != image.height {
            var padded = [UInt8](repeating: 0, count: width * height * 3)
            for y in 0..<height {
                for x in 0..<width {
                    let source = (min(y, image.height - 1) * image.width + min(x, image.width - 1)) * 3
                    padded[(y * width + x) * 3..<(y * width + x) * 3 + 3] = rgb[source..<source + 3]
                }
            }
            rgb = padded
        }
        handles.scaler = sws_getCachedContext(handles.scaler, Int32(width), Int32(height), AV_PIX_FMT_RGB24, Int32(width), Int32(height),
                                              AV_PIX_FMT_YUV420P, SWS_BILINEAR, nil, nil, nil)
        guard let scaler = handles.scaler else { throw DatasetError(path: path, "cannot convert frames to YUV") }
        let rows = rgb.withUnsafeBufferPointer { source -> Int32 in
            var planes: [UnsafePointer<UInt8>?] = [source.baseAddress, nil, nil, nil]
            var strides: [Int32] = [Int32(width * 3), 0, 0, 0]
            return withUnsafeMutablePointer(to: &frame.pointee.data) { data in
                withUnsafeMutablePointer(to: &frame.pointee.linesize) { lines in
                    data.withMemoryRebound(to: UnsafeMutablePointer<UInt8>?.self, capacity: 8) { target in
                        lines.withMemoryRebound(to: Int32.self, capacity: 8) { targetStrides in
                            sws_scale(scaler, &planes, &strides, 0, Int32(height), target, targetStrides)
                        }
                    }
                }
            }
        }
        guard rows == Int32(height) else { throw DatasetError(path: path, "cannot convert a frame to YUV") }
    }

    /// Sends a frame (nil: the end) and writes every packet the encoder has ready.
    private func encode(_ frame: UnsafeMutablePointer<AVFrame>?) throws(DatasetError) {
        guard let codec = handles.codec, let packet = handles.packet, let stream = handles.stream else { return }
        try check(avcodec_send_frame(codec, frame), "cannot encode a frame")
        while true {
            let status = avcodec_receive_packet(codec, packet)
            if status == CFFmpeg_AVERROR_EAGAIN() || status == CFFmpeg_AVERROR_EOF { return }
            try check(status, "cannot encode a frame")
            packet.pointee.duration = interval
            av_packet_rescale_ts(packet, codec.pointee.time_base, stream.pointee.time_base)
            packet.pointee.stream_index = stream.pointee.index
            try check(av_interleaved_write_frame(handles.format, packet), "cannot write (disk full?)")
        }
    }

    private func check(_ status: Int32, _ what: String) throws(DatasetError) {
        guard status < 0 else { return }
        throw DatasetError(path: path, "\(what) (\(VideoFileSource.message(status)))")
    }
}

import CFFmpeg
import Foundation

/// Records delivered frames losslessly into a video file: FFV1 (lossless) in Matroska, 8-bit gray as the
/// pipeline sees frames, each stamped with its capture time (milliseconds from the first frame, the
/// container's resolution). Replaying the file gives the same pixels and so the same results as the run.
/// A few megabytes a minute where PNG frames take hundreds.
///
/// Owns every FFmpeg handle; `finish` writes the container's index, so an interrupted run that finishes
/// cleanly (Ctrl-C, end of stream) leaves a complete file.
public final class VideoRecorder: FrameSink {
    public let path: String
    private let handles = Handles()
    private var width = 0, height = 0
    private var firstTimestamp: Double?
    private var lastPTS: Int64 = -1
    private var opened = false, finished = false

    /// Every FFmpeg handle, freed when the recorder goes (also when opening fails halfway).
    private final class Handles {
        var format: UnsafeMutablePointer<AVFormatContext>?
        var codec: UnsafeMutablePointer<AVCodecContext>?
        var frame = av_frame_alloc()
        var packet = av_packet_alloc()
        var stream: UnsafeMutablePointer<AVStream>?

        deinit {
            av_frame_free(&frame)
            av_packet_free(&packet)
            if codec != nil { avcodec_free_context(&codec) }
            if let format {
                if format.pointee.pb != nil, format.pointee.oformat.pointee.flags & AVFMT_NOFILE == 0 { avio_closep(&format.pointee.pb) }
                avformat_free_context(format)
            }
        }
    }

    /// Checks now that `path` can be written (the encoder opens with the first frame, whose size it takes).
    public init(path: String) throws(DatasetError) {
        self.path = path
        FFmpegLog.install()
        guard FileManager.default.createFile(atPath: path, contents: nil) else { throw DatasetError(path: path, "cannot be written") }
    }

    public func deliver(_ result: FrameResult) throws {
        let image = result.frame.image.grayscale()
        if !opened { try open(width: image.width, height: image.height) }
        guard image.width == width, image.height == height else {
            throw DatasetError(path: path, "frame \(result.frame.sequence) is \(image.width)x\(image.height), the recording \(width)x\(height)")
        }
        guard let frame = handles.frame else { throw DatasetError(path: path, "out of memory") }
        let start = firstTimestamp ?? result.frame.timestamp
        firstTimestamp = start
        // Strictly increasing, as the container needs, even for two frames within a millisecond.
        let pts = max(lastPTS + 1, Int64(((result.frame.timestamp - start) * 1000).rounded()))
        lastPTS = pts
        try check(av_frame_make_writable(frame), "cannot prepare a frame")
        let stride = Int(frame.pointee.linesize.0)
        image.pixels.withUnsafeBufferPointer { source in
            for y in 0..<height {
                (frame.pointee.data.0! + y * stride).update(from: source.baseAddress! + y * width, count: width)
            }
        }
        frame.pointee.pts = pts
        try encode(frame)
    }

    public func finish() throws {
        guard opened, !finished else { return }
        finished = true
        try encode(nil)
        try check(av_write_trailer(handles.format), "cannot finish the file")
        try check(avio_closep(&handles.format!.pointee.pb), "cannot close the file")
    }

    private func open(width: Int, height: Int) throws {
        self.width = width
        self.height = height
        try check(avformat_alloc_output_context2(&handles.format, nil, "matroska", path), "cannot start a Matroska file")
        guard let format = handles.format, let encoder = avcodec_find_encoder(AV_CODEC_ID_FFV1) else {
            throw DatasetError(path: path, "this FFmpeg has no FFV1 encoder")
        }
        handles.stream = avformat_new_stream(format, nil)
        handles.codec = avcodec_alloc_context3(encoder)
        guard let stream = handles.stream, let codec = handles.codec, let frame = handles.frame else { throw DatasetError(path: path, "out of memory") }
        codec.pointee.width = Int32(width)
        codec.pointee.height = Int32(height)
        codec.pointee.pix_fmt = AV_PIX_FMT_GRAY8
        codec.pointee.time_base = AVRational(num: 1, den: 1000)
        codec.pointee.thread_count = 1
        if format.pointee.oformat.pointee.flags & AVFMT_GLOBALHEADER != 0 { codec.pointee.flags |= Int32(AV_CODEC_FLAG_GLOBAL_HEADER) }
        try check(avcodec_open2(codec, encoder, nil), "cannot open the FFV1 encoder")
        try check(avcodec_parameters_from_context(stream.pointee.codecpar, codec), "cannot set the stream up")
        stream.pointee.time_base = codec.pointee.time_base
        try check(avio_open(&format.pointee.pb, path, AVIO_FLAG_WRITE), "cannot be written")
        try check(avformat_write_header(format, nil), "cannot write the file's header")
        frame.pointee.format = AV_PIX_FMT_GRAY8.rawValue
        frame.pointee.width = Int32(width)
        frame.pointee.height = Int32(height)
        try check(av_frame_get_buffer(frame, 0), "out of memory")
        opened = true
    }

    /// Sends a frame (nil: the end) and writes every packet the encoder has ready.
    private func encode(_ frame: UnsafeMutablePointer<AVFrame>?) throws {
        guard let codec = handles.codec, let packet = handles.packet, let stream = handles.stream else { return }
        try check(avcodec_send_frame(codec, frame), "cannot encode frame")
        while true {
            let status = avcodec_receive_packet(codec, packet)
            if status == CFFmpeg_AVERROR_EAGAIN() || status == CFFmpeg_AVERROR_EOF { return }
            try check(status, "cannot encode frame")
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

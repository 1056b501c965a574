import CFFmpeg
import Foundation

/// Whether a video stream that reached its end of file was whole, decided from the demuxer's own status:
/// the I/O context's error flag, and what the container declared against what was read. FFmpeg's demuxers
/// report a file cut short (a download that stopped, a copy to a full disk) as a plain end of file, so the
/// declaration is the only witness:
/// - an index (mp4's sample table, avi's idx1) listing data past the file's last byte;
/// - a header's frame count (mp4, avi) above the frames read, when reading began at the start;
/// - a declared duration (the stream's own, Matroska's per-track DURATION tag, or the file's when it holds
///   one stream) well past the end of the last packet read.
///
/// Files without a declaration (a recording whose writer was killed before its trailer) end clean: their
/// frames are all there is.
struct DemuxerEnd {
    /// Video packets read, and the latest end (pts + duration, stream ticks from the stream's start) seen.
    private(set) var packets = 0
    private var latestEnd: Int64?

    /// Counts one packet of the stream.
    mutating func note(_ packet: UnsafePointer<AVPacket>, startTime: Int64) {
        packets += 1
        let pts = packet.pointee.pts
        guard pts != CFFmpeg_AV_NOPTS_VALUE else { return }
        let (end, overflow) = pts.addingReportingOverflow(max(0, packet.pointee.duration))
        guard !overflow, case (let fromStart, false) = end.subtractingReportingOverflow(startTime) else { return }
        latestEnd = max(latestEnd ?? fromStart, fromStart)
    }

    /// Why the file is damaged (nil: it ended whole, as far as the container says). `fromStart`: reading
    /// began at the first packet (no seek), so the header's frame count applies.
    func damage(format: UnsafeMutablePointer<AVFormatContext>, stream: UnsafeMutablePointer<AVStream>, fromStart: Bool) -> String? {
        if let io = format.pointee.pb, io.pointee.error < 0 {
            return "read error: \(VideoFileSource.message(io.pointee.error))"
        }
        let size = format.pointee.pb.map { avio_size($0) } ?? -1
        let entries = avformat_index_get_entries_count(stream)
        if size > 0, entries > 0, let last = avformat_index_get_entry(stream, entries - 1) {
            let (end, overflow) = last.pointee.pos.addingReportingOverflow(Int64(last.pointee.size))
            if !overflow, end > size { return "cut short: the file ends at byte \(size), its index goes on to byte \(end)" }
        }
        if fromStart, stream.pointee.nb_frames > 0, Int64(packets) < stream.pointee.nb_frames {
            return "cut short: \(packets) of the \(stream.pointee.nb_frames) frames its header declares"
        }
        let timeBase = stream.pointee.time_base
        guard let declared = declaredDuration(format: format, stream: stream), timeBase.num > 0, timeBase.den > 0 else { return nil }
        let read = latestEnd.map { Double($0) * av_q2d(timeBase) } ?? 0
        let rate = av_q2d(stream.pointee.avg_frame_rate)
        // Two frames and a quarter second: containers round their durations, and the last frame may lack its own.
        let slack = 0.25 + 2 / (rate.isFinite && rate > 0 ? rate : 30)
        if declared - read > slack {
            return String(format: "cut short: it ends at %.2f s of the %.2f s its header declares", read, declared)
        }
        return nil
    }

    /// The stream's declared length in seconds, from the most specific declaration the file has.
    private func declaredDuration(format: UnsafeMutablePointer<AVFormatContext>, stream: UnsafeMutablePointer<AVStream>) -> Double? {
        if stream.pointee.duration > 0, stream.pointee.duration != CFFmpeg_AV_NOPTS_VALUE {
            return Double(stream.pointee.duration) * av_q2d(stream.pointee.time_base)
        }
        if let tag = av_dict_get(stream.pointee.metadata, "DURATION", nil, 0), let value = tag.pointee.value,
           let seconds = Self.seconds(clock: String(cString: value)) {
            return seconds
        }
        if format.pointee.nb_streams == 1, format.pointee.duration > 0, format.pointee.duration != CFFmpeg_AV_NOPTS_VALUE {
            return Double(format.pointee.duration) / Double(CFFmpeg_AV_TIME_BASE)
        }
        return nil
    }

    /// "HH:MM:SS.fraction" (Matroska's DURATION tag as FFmpeg writes and reads it) in seconds.
    static func seconds(clock: String) -> Double? {
        let parts = clock.split(separator: ":")
        guard parts.count == 3, let hours = Double(parts[0]), let minutes = Double(parts[1]), let seconds = Double(parts[2]),
              hours >= 0, minutes >= 0, seconds >= 0 else { return nil }
        let total = hours * 3600 + minutes * 60 + seconds
        return total.isFinite ? total : nil
    }
}

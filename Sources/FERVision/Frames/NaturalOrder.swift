/// Orders file names the way people number frames: runs of digits compare as numbers, so `frame2`
/// comes before `frame10`; other text compares as is. Equal numbers with more leading zeros sort later,
/// so the order is total.
public func naturallyOrdered(_ lhs: String, _ rhs: String) -> Bool {
    var a = lhs.unicodeScalars.makeIterator(), b = rhs.unicodeScalars.makeIterator()
    var x = a.next(), y = b.next()
    var zeroTieBreak = 0
    while let p = x, let q = y {
        let pDigit = ("0"..."9").contains(p), qDigit = ("0"..."9").contains(q)
        if pDigit && qDigit {
            var first = "", second = ""
            while let c = x, ("0"..."9").contains(c) { first.unicodeScalars.append(c); x = a.next() }
            while let c = y, ("0"..."9").contains(c) { second.unicodeScalars.append(c); y = b.next() }
            let trimmedFirst = first.drop { $0 == "0" }, trimmedSecond = second.drop { $0 == "0" }
            if trimmedFirst.count != trimmedSecond.count { return trimmedFirst.count < trimmedSecond.count }
            if trimmedFirst != trimmedSecond { return trimmedFirst < trimmedSecond }
            if zeroTieBreak == 0, first.count != second.count { zeroTieBreak = first.count < second.count ? -1 : 1 }
            continue
        }
        if p != q { return p.value < q.value }
        x = a.next()
        y = b.next()
    }
    if x == nil, y != nil { return true }
    if x != nil { return false }
    return zeroTieBreak < 0
}

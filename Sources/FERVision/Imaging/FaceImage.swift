/// Which pictures are already a face: small ones, the size of FER2013's crops. Such a picture is taken
/// whole, as the face (FER2013's framing), rather than searched for a face the cascade could not see in
/// so few pixels; a larger picture is searched.
public enum FaceImage {
    /// The largest side of a picture taken as one whole face (FER2013's faces are 48x48).
    public static let maximumSide = 64

    /// Whether `image` is small enough to be one whole face.
    public static func isFaceCrop(_ image: ByteImage) -> Bool {
        image.width <= maximumSide && image.height <= maximumSide
    }
}

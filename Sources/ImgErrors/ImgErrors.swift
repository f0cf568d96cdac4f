// ImgErrors: The one shape every reported error has (`ImgError`: a stable kebab-case code, a one-line message, an
// optional cause).

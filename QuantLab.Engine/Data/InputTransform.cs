namespace QuantLab.Engine.Data;

/// <summary>How a 28×28 MNIST digit becomes LeNet-5's 32×32 input.</summary>
public enum InputTransform
{
    /// <summary>
    /// Bilinear upscale 28→32 exactly as torchvision's <c>Resize(32)</c> on a PIL image does (PIL's
    /// resampler), rounded to bytes. Fits the seed's reported input range [−1, 0.984]: the largest
    /// resized MNIST pixel is 253.
    /// </summary>
    Resize,

    /// <summary>Two pixels of zero on each side (the original LeNet-5 input).</summary>
    Pad,
}

/// <summary>The 28→32 image transforms, on bytes.</summary>
public static class InputTransforms
{
    public const int SourceSide = 28;
    public const int Side = 32;

    private static readonly Resampler Resize28To32 = new(SourceSide, SourceSide, Side, Side);

    /// <summary>
    /// Transforms <paramref name="count"/> consecutive 28×28 images into 32×32 ones. Images are
    /// independent, so the parallel loop gives the same bytes as a sequential one.
    /// </summary>
    public static byte[] Apply(InputTransform transform, ReadOnlyMemory<byte> images28, int count)
    {
        const int inSize = SourceSide * SourceSide, outSize = Side * Side;
        if (images28.Length != (long)count * inSize)
            throw new ArgumentException($"expected {count} images of {inSize} bytes, got {images28.Length} bytes");
        var result = new byte[(long)count * outSize];
        const int chunk = 512;
        Parallel.For(0, (count + chunk - 1) / chunk, c =>
        {
            var source = images28.Span;
            var temp = new byte[Resampler.TempSize(SourceSide, Side)];
            for (var i = c * chunk; i < Math.Min(count, (c + 1) * chunk); i++)
            {
                var from = source.Slice(i * inSize, inSize);
                var to = result.AsSpan(i * outSize, outSize);
                if (transform == InputTransform.Resize) Resize28To32.Resize(from, to, temp);
                else Pad(from, to);
            }
        });
        return result;
    }

    /// <summary>Centers a 28×28 image in a 32×32 one with a zero border of 2.</summary>
    public static void Pad(ReadOnlySpan<byte> image28, Span<byte> image32)
    {
        const int border = (Side - SourceSide) / 2;
        image32[..(Side * Side)].Clear();
        for (var y = 0; y < SourceSide; y++)
            image28.Slice(y * SourceSide, SourceSide).CopyTo(image32.Slice((y + border) * Side + border, SourceSide));
    }

    /// <summary>
    /// Resizes a single-channel byte image with PIL's bilinear resampler (see <see cref="Resampler"/>).
    /// </summary>
    public static void ResizeBilinear(ReadOnlySpan<byte> source, int sourceWidth, int sourceHeight, Span<byte> destination, int width, int height)
    {
        var resampler = sourceWidth == SourceSide && sourceHeight == SourceSide && width == Side && height == Side
            ? Resize28To32
            : new Resampler(sourceWidth, sourceHeight, width, height);
        resampler.Resize(source, destination, new byte[Resampler.TempSize(sourceHeight, width)]);
    }

    /// <summary>
    /// PIL's separable resampler with the bilinear (triangle) filter, for 8-bit images: a horizontal
    /// pass into an 8-bit intermediate image, then a vertical pass. Output pixel i samples the input
    /// at center (i + 0.5)·in/out; the filter's support is 1 when enlarging and in/out when
    /// shrinking; weights falling outside the image are dropped and the rest renormalised to sum to
    /// 1; weights are fixed-point with 22 fractional bits; each pass rounds half up and clamps to
    /// 0..255. Matching PIL's integer arithmetic (including the rounding between the passes) is what
    /// makes our inputs byte-identical to those of a PyTorch run.
    /// </summary>
    private sealed class Resampler
    {
        private const int PrecisionBits = 32 - 8 - 2;
        private readonly Kernel _horizontal, _vertical;
        private readonly int _inWidth, _inHeight, _outWidth, _outHeight;

        public Resampler(int inWidth, int inHeight, int outWidth, int outHeight)
        {
            if (inWidth <= 0 || inHeight <= 0 || outWidth <= 0 || outHeight <= 0)
                throw new ArgumentException("image sizes must be positive");
            (_inWidth, _inHeight, _outWidth, _outHeight) = (inWidth, inHeight, outWidth, outHeight);
            _horizontal = new Kernel(inWidth, outWidth);
            _vertical = new Kernel(inHeight, outHeight);
        }

        /// <summary>Size of the intermediate image: output width × input height.</summary>
        public static int TempSize(int inHeight, int outWidth) => inHeight * outWidth;

        public unsafe void Resize(ReadOnlySpan<byte> source, Span<byte> destination, Span<byte> temp)
        {
            if (source.Length < _inWidth * _inHeight || destination.Length < _outWidth * _outHeight || temp.Length < _inHeight * _outWidth)
                throw new ArgumentException("buffer too small for the image");
            // Pointers because this runs for every pixel of 70,000 images, and Debug builds (the
            // tests) do not optimise away span bounds checks.
            if (_horizontal.Taps2 is { } h2 && _vertical.Taps2 is { } v2)
            {
                ResizeTwoTaps(source, destination, temp, h2, v2);
                return;
            }
            fixed (byte* src = source, dst = destination, tmp = temp)
            fixed (int* hFirst = _horizontal.First, hCount = _horizontal.Count, hWeights = _horizontal.Weights)
            fixed (int* vFirst = _vertical.First, vCount = _vertical.Count, vWeights = _vertical.Weights)
            {
                int inWidth = _inWidth, outWidth = _outWidth, hSize = _horizontal.Size, vSize = _vertical.Size;
                // Horizontal pass: every input row, widened to the output width.
                for (var y = 0; y < _inHeight; y++)
                {
                    var row = src + y * inWidth;
                    var outRow = tmp + y * outWidth;
                    for (var x = 0; x < outWidth; x++)
                    {
                        var pixels = row + hFirst[x];
                        var weights = hWeights + x * hSize;
                        var sum = Half;
                        for (int k = 0, n = hCount[x]; k < n; k++) sum += pixels[k] * weights[k];
                        outRow[x] = Clip(sum);
                    }
                }
                // Vertical pass over the intermediate image.
                for (var y = 0; y < _outHeight; y++)
                {
                    var column = tmp + vFirst[y] * outWidth;
                    var weights = vWeights + y * vSize;
                    var n = vCount[y];
                    var outRow = dst + y * outWidth;
                    for (var x = 0; x < outWidth; x++)
                    {
                        var sum = Half;
                        for (var k = 0; k < n; k++) sum += column[k * outWidth + x] * weights[k];
                        outRow[x] = Clip(sum);
                    }
                }
            }
        }

        /// <summary>
        /// The same computation when enlarging, where every output sees at most two inputs per
        /// direction (a missing second tap has weight 0): no inner loops.
        /// </summary>
        private unsafe void ResizeTwoTaps(ReadOnlySpan<byte> source, Span<byte> destination, Span<byte> temp, int[] h, int[] v)
        {
            // Rows of zeros stay zero (the rounding half shifts out), and most of an MNIST image is
            // blank rows: skipping them saves about a third of the work.
            Span<bool> blank = stackalloc bool[_inHeight];
            fixed (byte* src = source, dst = destination, tmp = temp)
            fixed (int* hTaps = h, vTaps = v)
            {
                int inWidth = _inWidth, outWidth = _outWidth;
                for (var y = 0; y < _inHeight; y++)
                {
                    var outRow = tmp + y * outWidth;
                    if (blank[y] = !source.Slice(y * inWidth, inWidth).ContainsAnyExcept((byte)0))
                    {
                        new Span<byte>(outRow, outWidth).Clear(); // temp is reused across images
                        continue;
                    }
                    var row = src + y * inWidth;
                    var tap = hTaps;
                    for (var x = 0; x < outWidth; x++, tap += 3)
                    {
                        var pixels = row + tap[0];
                        outRow[x] = Clip(Half + pixels[0] * tap[1] + pixels[1] * tap[2]);
                    }
                }
                var vTap = vTaps;
                for (var y = 0; y < _outHeight; y++, vTap += 3)
                {
                    var first = vTap[0];
                    var outRow = dst + y * outWidth;
                    if (blank[first] && blank[first + 1])
                    {
                        new Span<byte>(outRow, outWidth).Clear();
                        continue;
                    }
                    var upper = tmp + first * outWidth;
                    var lower = upper + outWidth;
                    int w0 = vTap[1], w1 = vTap[2];
                    for (var x = 0; x < outWidth; x++)
                        outRow[x] = Clip(Half + upper[x] * w0 + lower[x] * w1);
                }
            }
        }

        private const int Half = 1 << (PrecisionBits - 1);

        // The shift floors; with the half added before the sum this rounds half up.
        private static byte Clip(int sum)
        {
            sum >>= PrecisionBits;
            return sum < 0 ? (byte)0 : sum > 255 ? (byte)255 : (byte)sum;
        }

        /// <summary>For each output position: the first input index, how many inputs, and their fixed-point weights.</summary>
        private sealed class Kernel
        {
            public readonly int[] First, Count;

            /// <summary>
            /// When every position has at most two taps: (first, w0, w1) per position, with the
            /// first moved back by one where a lone tap sits on the last input (so both reads stay
            /// inside the image) and the unused weight 0. Null otherwise.
            /// </summary>
            public readonly int[]? Taps2;
            public readonly int[] Weights;
            public readonly int Size;

            public Kernel(int inSize, int outSize)
            {
                var scale = (double)inSize / outSize;
                var filterScale = Math.Max(scale, 1.0);
                var support = 1.0 * filterScale; // the triangle filter's support is 1
                Size = (int)Math.Ceiling(support) * 2 + 1;
                First = new int[outSize];
                Count = new int[outSize];
                Weights = new int[outSize * Size];
                var ss = 1.0 / filterScale;
                var w = new double[Size];
                for (var i = 0; i < outSize; i++)
                {
                    var center = (i + 0.5) * scale;
                    // (int) truncates toward zero, as the C original does.
                    var first = Math.Max((int)(center - support + 0.5), 0);
                    var last = Math.Min((int)(center + support + 0.5), inSize);
                    var count = last - first;
                    var total = 0.0;
                    for (var k = 0; k < count; k++)
                    {
                        w[k] = Triangle((k + first - center + 0.5) * ss);
                        total += w[k];
                    }
                    for (var k = 0; k < count; k++)
                    {
                        var normalized = total != 0 ? w[k] / total : w[k];
                        Weights[i * Size + k] = (int)(normalized < 0
                            ? -0.5 + normalized * (1 << PrecisionBits)
                            : 0.5 + normalized * (1 << PrecisionBits));
                    }
                    First[i] = first;
                    Count[i] = count;
                }

                if (inSize >= 2 && Count.All(c => c <= 2))
                {
                    Taps2 = new int[outSize * 3];
                    for (var i = 0; i < outSize; i++)
                    {
                        int w0 = Count[i] > 0 ? Weights[i * Size] : 0, w1 = Count[i] > 1 ? Weights[i * Size + 1] : 0;
                        var first = First[i];
                        if (first + 1 >= inSize) (first, w0, w1) = (first - 1, w1, w0); // lone tap on the last input
                        (Taps2[3 * i], Taps2[3 * i + 1], Taps2[3 * i + 2]) = (first, w0, w1);
                    }
                }
            }

            private static double Triangle(double x)
            {
                x = Math.Abs(x);
                return x < 1.0 ? 1.0 - x : 0.0;
            }
        }
    }
}

namespace QuantLab.Engine.Data;

/// <summary>One split (train or test) of MNIST: the original images, their 32×32 inputs, and labels.</summary>
public sealed class MnistSplit
{
    public const int SourcePixels = InputTransforms.SourceSide * InputTransforms.SourceSide;
    public const int Pixels = InputTransforms.Side * InputTransforms.Side;

    /// <summary>x = v/127.5 − 1 for every byte v: ToTensor's v/255, then Normalize(mean 0.5, std 0.5).</summary>
    private static readonly float[] NormalizedByte = Enumerable.Range(0, 256).Select(v => (float)(v / 127.5 - 1.0)).ToArray();

    internal MnistSplit(byte[] images28, byte[] labels, InputTransform transform)
    {
        Count = labels.Length;
        Images28 = images28;
        Labels = labels;
        Transform = transform;
        Images = InputTransforms.Apply(transform, images28, Count);
    }

    public int Count { get; }

    /// <summary>The original images, <see cref="Count"/> × 28 × 28 bytes, row-major.</summary>
    public byte[] Images28 { get; }

    /// <summary>The network's inputs after <see cref="Transform"/>, <see cref="Count"/> × 32 × 32 bytes.</summary>
    public byte[] Images { get; }

    /// <summary>The digits 0..9, one per image.</summary>
    public byte[] Labels { get; }

    public InputTransform Transform { get; }

    /// <summary>The 32×32 input bytes of one image.</summary>
    public ReadOnlySpan<byte> Image(int index) => Images.AsSpan(checked(index * Pixels), Pixels);

    /// <summary>The normalized value of a pixel byte: v/127.5 − 1, in [−1, 1].</summary>
    public static float Normalize(byte value) => NormalizedByte[value];

    /// <summary>
    /// Writes the normalized 32×32 inputs of images <paramref name="start"/> .. start+count−1 into
    /// <paramref name="destination"/> (N×1×32×32 order, count × 1024 floats).
    /// </summary>
    public void FillNormalized(int start, int count, Span<float> destination)
    {
        if (start < 0 || count < 0 || start + count > Count)
            throw new ArgumentOutOfRangeException(nameof(count), $"images {start}..{start + count - 1} are outside 0..{Count - 1}");
        if (destination.Length < count * Pixels)
            throw new ArgumentException($"destination holds {destination.Length} floats, {count * Pixels} needed", nameof(destination));
        var source = Images.AsSpan(start * Pixels, count * Pixels);
        for (var i = 0; i < source.Length; i++) destination[i] = NormalizedByte[source[i]];
    }

    /// <summary>The normalized 32×32 inputs of a range of images, as a new array.</summary>
    public float[] Normalized(int start, int count)
    {
        var result = new float[count * Pixels];
        FillNormalized(start, count, result);
        return result;
    }
}

/// <summary>MNIST loaded from a directory holding the four IDX files (see <see cref="MnistAcquirer"/>).</summary>
public sealed class MnistDataset
{
    private MnistDataset(MnistSplit train, MnistSplit test, MnistFileSet files, InputTransform transform)
    {
        Train = train;
        Test = test;
        Files = files;
        Transform = transform;
    }

    public MnistSplit Train { get; }
    public MnistSplit Test { get; }
    public MnistFileSet Files { get; }
    public InputTransform Transform { get; }

    /// <summary>
    /// Reads the four files from <paramref name="directory"/>, checks their shapes, that image and
    /// label counts agree and that labels are digits, and computes the 32×32 inputs once.
    /// Does not re-hash the files: <see cref="MnistAcquirer"/> verified them.
    /// </summary>
    /// <exception cref="BadInputException">A file is missing or malformed, or the counts disagree.</exception>
    public static MnistDataset Load(string directory, InputTransform transform = InputTransform.Resize, MnistFileSet? files = null, Action<string>? log = null)
    {
        files ??= MnistFileSet.Standard;
        var started = System.Diagnostics.Stopwatch.StartNew();
        var train = LoadSplit(directory, files.TrainImages, files.TrainLabels, transform);
        var test = LoadSplit(directory, files.TestImages, files.TestLabels, transform);
        log?.Invoke($"mnist: loaded {train.Count} training and {test.Count} test images from {directory} ({transform}, {started.ElapsedMilliseconds} ms)");
        return new MnistDataset(train, test, files, transform);
    }

    private static MnistSplit LoadSplit(string directory, MnistFile imagesFile, MnistFile labelsFile, InputTransform transform)
    {
        var imagesPath = Path.Combine(directory, imagesFile.Name);
        var labelsPath = Path.Combine(directory, labelsFile.Name);
        var images = IdxReader.Read(imagesPath);
        var labels = IdxReader.Read(labelsPath);
        if (images.Dimensions.Count != 3 || images.Dimensions[1] != InputTransforms.SourceSide || images.Dimensions[2] != InputTransforms.SourceSide)
            throw new BadInputException($"{imagesPath}: expected N×28×28 images, header says {string.Join("×", images.Dimensions)}");
        if (labels.Dimensions.Count != 1)
            throw new BadInputException($"{labelsPath}: expected N labels (1 dimension), header says {string.Join("×", labels.Dimensions)}");
        if (images.Count != labels.Count)
            throw new BadInputException($"{imagesPath} holds {images.Count} images but {labelsPath} holds {labels.Count} labels");
        var bad = Array.FindIndex(labels.Data, l => l > 9);
        if (bad >= 0)
            throw new BadInputException($"{labelsPath}: label {labels.Data[bad]} at index {bad} is not a digit 0..9");
        return new MnistSplit(images.Data, labels.Data, transform);
    }
}

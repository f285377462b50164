using QuantLab.Engine;
using QuantLab.Engine.Data;

namespace QuantLab.Tests.Data;

public sealed class MnistDatasetTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly MnistFixture _fixture = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Loads_both_splits_with_labels_and_32x32_inputs()
    {
        var data = MnistDataset.Load(_fixture.WriteTo(_dir.Path), InputTransform.Pad, _fixture.Files);

        Assert.Equal(MnistFixture.TrainCount, data.Train.Count);
        Assert.Equal(MnistFixture.TestCount, data.Test.Count);
        Assert.Equal(_fixture.Contents["train-labels-idx1-ubyte"][8..], data.Train.Labels);
        Assert.Equal(_fixture.Contents["t10k-images-idx3-ubyte"][16..], data.Test.Images28);
        Assert.Equal(MnistFixture.TestCount * 1024, data.Test.Images.Length);
        // Pad: image 1's first source pixel lands at row 2, column 2.
        Assert.Equal(data.Test.Images28[784], data.Test.Image(1)[2 * 32 + 2]);
    }

    [Fact]
    public void FillNormalized_writes_the_normalized_inputs_of_the_requested_range()
    {
        var data = MnistDataset.Load(_fixture.WriteTo(_dir.Path), InputTransform.Resize, _fixture.Files);
        var floats = new float[2 * 1024];

        data.Train.FillNormalized(2, 2, floats);

        for (var i = 0; i < floats.Length; i++)
            Assert.Equal((float)(data.Train.Images[2 * 1024 + i] / 127.5 - 1), floats[i]);
        Assert.Equal(floats, data.Train.Normalized(2, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => data.Train.FillNormalized(4, 2, floats));
    }

    [Fact]
    public void Image_and_label_counts_must_agree()
    {
        _fixture.WriteTo(_dir.Path);
        var labels = Path.Combine(_dir.Path, "t10k-labels-idx1-ubyte");
        File.WriteAllBytes(labels, Idx.Bytes([2], [1, 2]));

        var e = Assert.Throws<BadInputException>(() => MnistDataset.Load(_dir.Path, files: _fixture.Files));
        Assert.Contains($"holds 3 images but {labels} holds 2 labels", e.Message);
    }

    [Fact]
    public void Labels_must_be_digits()
    {
        _fixture.WriteTo(_dir.Path);
        var labels = Path.Combine(_dir.Path, "train-labels-idx1-ubyte");
        File.WriteAllBytes(labels, Idx.Bytes([5], [1, 2, 10, 3, 4]));

        var e = Assert.Throws<BadInputException>(() => MnistDataset.Load(_dir.Path, files: _fixture.Files));
        Assert.Equal($"{labels}: label 10 at index 2 is not a digit 0..9", e.Message);
    }

    [Fact]
    public void Images_must_be_28x28()
    {
        _fixture.WriteTo(_dir.Path);
        var images = Path.Combine(_dir.Path, "train-images-idx3-ubyte");
        File.WriteAllBytes(images, Idx.Bytes([5, 32, 32], new byte[5 * 1024]));

        var e = Assert.Throws<BadInputException>(() => MnistDataset.Load(_dir.Path, files: _fixture.Files));
        Assert.Equal($"{images}: expected N×28×28 images, header says 5×32×32", e.Message);
    }
}

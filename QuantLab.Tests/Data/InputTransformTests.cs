using QuantLab.Engine.Data;

namespace QuantLab.Tests.Data;

public class InputTransformTests
{
    private static byte[] Resize(byte[] source, int width, int height, int outWidth, int outHeight)
    {
        var result = new byte[outWidth * outHeight];
        InputTransforms.ResizeBilinear(source, width, height, result, outWidth, outHeight);
        return result;
    }

    [Fact]
    public void Upscaling_a_row_2_to_4_keeps_the_border_pixels_and_interpolates_between_centers()
    {
        // Output centers at 0.25, 0.75, 1.25, 1.75 of the input; the outer two see only one input
        // pixel once the weights outside the image are dropped and the rest renormalised.
        Assert.Equal([0, 25, 75, 100], Resize([0, 100], 2, 1, 4, 1));
    }

    [Fact]
    public void Downscaling_widens_the_filter_to_the_scale()
    {
        // 4→2: scale 2, support 2. Output 0 samples 1.0: inputs 0,1,2 with triangle weights
        // 0.75, 0.75, 0.25 (distances 0.5, 0.5, 1.5 halved) renormalised by 1.75 → 71.4 → 71;
        // output 1 samples 3.0: inputs 1,2,3 weighted 0.25, 0.75, 0.75 → 117.1 → 117.
        Assert.Equal([71, 117], Resize([0, 100, 200, 40], 4, 1, 2, 1));
    }

    [Fact]
    public void The_horizontal_pass_is_rounded_to_bytes_before_the_vertical_pass_as_PIL_does()
    {
        // Horizontal: [0,10] → [0, 2.5→3, 7.5→8, 10]; [30,101] → [30, 47.75→48, 83.25→83, 101].
        // Vertical (weights 3/4, 1/4) over those bytes. Row 1 column 2: 0.75·8 + 0.25·83 = 26.75 → 27,
        // where interpolating without the intermediate rounding would give 26.4375 → 26.
        byte[] expected =
        [
            0, 3, 8, 10,
            8, 14, 27, 33,
            23, 37, 64, 78,
            30, 48, 83, 101,
        ];
        Assert.Equal(expected, Resize([0, 10, 30, 101], 2, 2, 4, 4));
    }

    [Fact]
    public void A_corner_pixel_spreads_by_the_28_to_32_weights()
    {
        // Output 0 samples input 0.4375 (only pixel 0 in range: weight 1); output 1 samples 1.3125:
        // weights 0.1875 on pixel 0 and 0.8125 on pixel 1. 255·0.1875 = 47.8 → 48; 48·0.1875 = 9.0 → 9.
        var image = new byte[28 * 28];
        image[0] = 255;
        var result = Resize(image, 28, 28, 32, 32);
        Assert.Equal(32 * 32, result.Length);
        Assert.Equal([255, 48, 0], result[..3]);
        Assert.Equal([48, 9, 0], result[32..35]);
        Assert.Equal(0, result[64]);
        Assert.Equal(255 + 48 + 48 + 9, result.Sum(b => b));
    }

    [Fact]
    public void A_constant_image_stays_constant_for_every_byte_value()
    {
        for (var v = 0; v < 256; v++)
        {
            var result = Resize(Enumerable.Repeat((byte)v, 28 * 28).ToArray(), 28, 28, 32, 32);
            Assert.Equal(32 * 32, result.Length);
            Assert.All(result, b => Assert.Equal(v, b));
        }
    }

    [Fact]
    public void Pad_centers_the_image_in_a_zero_border_of_two()
    {
        var image = Enumerable.Range(0, 28 * 28).Select(i => (byte)(1 + i % 250)).ToArray();
        var result = new byte[32 * 32];
        Array.Fill(result, (byte)77); // must be overwritten, border included
        InputTransforms.Pad(image, result);
        for (var y = 0; y < 32; y++)
        for (var x = 0; x < 32; x++)
        {
            var inside = y is >= 2 and < 30 && x is >= 2 and < 30;
            Assert.Equal(inside ? image[(y - 2) * 28 + (x - 2)] : 0, result[y * 32 + x]);
        }
    }

    [Theory]
    [InlineData(InputTransform.Resize)]
    [InlineData(InputTransform.Pad)]
    public void Apply_in_parallel_equals_the_image_by_image_transform(InputTransform transform)
    {
        const int count = 2000;
        var images = Idx.Pattern(count * 784, seed: 11);
        // Blank rows, as MNIST has, between images full of ink: a buffer reused from one image to
        // the next must not leak into the following one.
        var random = new Random(12);
        for (var i = 0; i < count; i += 2)
        for (var y = 0; y < 28; y++)
            if (random.Next(3) == 0) images.AsSpan(i * 784 + y * 28, 28).Clear();
        var result = InputTransforms.Apply(transform, images, count);
        Assert.Equal(count * 1024, result.Length);
        var one = new byte[1024];
        for (var i = 0; i < count; i++)
        {
            var source = images.AsSpan(i * 784, 784);
            if (transform == InputTransform.Resize) InputTransforms.ResizeBilinear(source, 28, 28, one, 32, 32);
            else InputTransforms.Pad(source, one);
            Assert.True(one.AsSpan().SequenceEqual(result.AsSpan(i * 1024, 1024)), $"image {i} differs");
        }
    }

    [Fact]
    public void Normalization_maps_bytes_to_v_over_127_5_minus_1()
    {
        Assert.Equal(-1f, MnistSplit.Normalize(0));
        Assert.Equal(1f, MnistSplit.Normalize(255));
        Assert.Equal((float)(253 / 127.5 - 1), MnistSplit.Normalize(253));
        Assert.Equal(0.98431f, MnistSplit.Normalize(253), 5);
        Assert.Equal((float)(128 / 127.5 - 1), MnistSplit.Normalize(128));
    }
}

using CsCheck;
using QuantLab.Engine.Int;
using QuantLab.Engine.Quantization;

namespace QuantLab.Tests.Int;

/// <summary>
/// Every SIMD path equals the scalar reference on random small networks: random shapes (conv, optional
/// fused 2×2 or 3×3 pool (windows of 4 and 9 positions), conv, optional pool, flatten, two linear layers), weight and activation bits 2..16 each,
/// rounding, requant mode and precision, bias mode, per-tensor or per-channel multipliers, signed or unsigned
/// ReLU outputs (unsigned-after-relu: 0..2^n − 1), and sometimes extreme weights and biases that push layers onto
/// the wide accumulators.
/// </summary>
public class KernelPathEquivalenceTests
{
    static KernelPathEquivalenceTests() => KernelPaths.EmulateAvx512 = true;

    /// <summary>The SIMD paths this machine can run; AVX-512 also in emulation where only AVX2 is present.</summary>
    public static IEnumerable<KernelPath> SimdPaths() =>
        KernelPaths.IsSupported(KernelPath.Avx2) ? [KernelPath.Avx2, KernelPath.Avx512] : [];

    public sealed record Case(int Seed, int InChannels, int Height, int Width, int K1, int C1, int Pool1, int K2, int C2, int Pool2,
        int Fc1, int Fc2, int WeightBits, int ActBits, int InputBits, RoundingMode Rounding, int Precision, BiasMode Bias,
        bool PerChannel, bool Extreme, int Images, bool Unsigned = false)
    {
        public override string ToString() =>
            $"seed {Seed}: in {InChannels}x{Height}x{Width}, conv {K1}->{C1}{(Pool1 > 1 ? $"+pool{Pool1}" : "")}, conv {K2}->{C2}{(Pool2 > 1 ? $"+pool{Pool2}" : "")}, fc {Fc1}, {Fc2}; " +
            $"w{WeightBits} a{ActBits} in{InputBits} {Rounding} {(Precision == 0 ? "float" : $"fixed:{Precision}")} bias {Bias} {(PerChannel ? "channel" : "tensor")}{(Extreme ? " extreme" : "")}{(Unsigned ? " unsigned-after-relu" : "")}; {Images} images";
    }

    public static readonly Gen<Case> Cases =
        from seed in Gen.Int[0, int.MaxValue]
        from inChannels in Gen.Int[1, 3]
        from k1 in Gen.Int[1, 5]
        from c1 in Gen.Int[1, 10]
        from pool1 in Gen.Int[1, 3]
        from k2 in Gen.Int[1, 3]
        from c2 in Gen.Int[1, 12]
        from pool2 in Gen.Int[1, 3]
        from extraH in Gen.Int[0, 5]
        from extraW in Gen.Int[0, 5]
        from fc1 in Gen.Int[1, 20]
        from fc2 in Gen.Int[1, 10]
        from weightBits in Gen.Int[2, 16]
        from actBits in Gen.Int[2, 16]
        from inputBits in Gen.Int[2, 16]
        from rounding in Gen.Int[0, 2]
        from fixedPoint in Gen.Bool
        from precision in Gen.Int[RequantSpec.MinPrecision, RequantSpec.MaxPrecision]
        from bias in Gen.Int[0, 2]
        from perChannel in Gen.Bool
        from extreme in Gen.Int[0, 4]
        from images in Gen.Int[1, 37]
        from unsigned in Gen.Bool
        let minH = Need(k1, pool1, k2, pool2)
        let biasMode = fixedPoint && bias == 1 ? BiasMode.Int32 : (BiasMode)bias
        select new Case(seed, inChannels, minH + extraH, minH + extraW, k1, c1, pool1, k2, c2, pool2, fc1, fc2, weightBits, actBits, inputBits,
            (RoundingMode)rounding, fixedPoint ? precision : 0, biasMode, perChannel, extreme == 0, images, unsigned);

    // The smallest input side that leaves at least one output after both convolutions and pools.
    private static int Need(int k1, int pool1, int k2, int pool2) => (k2 - 1 + pool2) * pool1 + k1 - 1;

    [Fact]
    public void Every_simd_path_equals_the_scalar_reference_on_random_networks()
    {
        Cases.Sample(c =>
        {
            var (model, inputs) = Build(c);
            var reference = IntegerEngine.RunReference(model, inputs);
            // 16-bit unsigned outputs (up to 65,535) included: they are stored offset by −32768 (TensorLayout.Offset).
            Assert.True(CompiledModel.CanCompile(model));
            foreach (var path in SimdPaths())
                Assert.Equal(reference, IntegerEngine.Run(new CompiledModel(model, path), inputs, threads: 2));
        }, iter: 300, threads: 1);
    }

    /// <summary>A one-channel input pairs kernel rows; an odd kernel's last row pairs columns (from the column plane)
    /// and keeps its last tap alone: k = 5 takes 2·5 + 3 = 13 pair taps where pairing rows alone takes 15. At 8 and at
    /// 16 bits (whose pool windows split their inputs into bytes in registers), the results equal the reference's.</summary>
    [Theory]
    [InlineData(1, 1, false)]
    [InlineData(2, 2, false)]
    [InlineData(3, 5, true)]
    [InlineData(4, 8, false)]
    [InlineData(5, 13, true)]
    public void A_one_channel_first_conv_pairs_rows_and_an_odd_kernels_last_row_pairs_columns(int k, int taps, bool columnPlane)
    {
        foreach (int bits in new[] { 8, 16 })
        {
            var c = new Case(k, 1, k + 7, k + 6, k, 6, 2, 2, 5, 1, 7, 4, bits, bits, bits, RoundingMode.HalfEven, 0, BiasMode.None, false, true, 21);
            var (model, inputs) = Build(c);
            var reference = IntegerEngine.RunReference(model, inputs);
            foreach (var path in SimdPaths())
            {
                var compiled = new CompiledModel(model, path);
                Assert.Equal(columnPlane, compiled.InputLayout.ColumnPlane);
                Assert.Equal(taps, ((ConvParams)compiled.Ops[0]).TapOffsets.Length);
                Assert.Equal(reference, IntegerEngine.Run(compiled, inputs, threads: 1));
            }
        }
    }

    /// <summary>On every SIMD path a conv with a fused 2×2 pool computes each window's two columns by minimal filtering: every
    /// kernel row cut into F(2, 3) and F(2, 2) segments (k = 4 as 2 + 2, so no tap is left alone), a one-channel input's
    /// column-plane taps as single-tap segments (AVX-512 both rows of a window per call, AVX2 a row). Both layouts, both
    /// convs (5 output channels, so a last call of one channel, then 6), equal to the reference.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void A_pooled_conv_computes_its_window_columns_by_minimal_filtering(int k)
    {
        SegmentKind[] row = k switch
        {
            1 => [SegmentKind.F1],
            2 => [SegmentKind.F2],
            3 => [SegmentKind.F3],
            4 => [SegmentKind.F2, SegmentKind.F2],
            _ => [SegmentKind.F3, SegmentKind.F2],
        };
        foreach (int inChannels in new[] { 1, 3 })
        {
            var c = new Case(k, inChannels, k + 8, k + 7, k, 5, 2, 2, 6, 2, 7, 4, 8, 8, 8, RoundingMode.HalfEven, 0, BiasMode.None, false, true, 21);
            var (model, inputs) = Build(c);
            var reference = IntegerEngine.RunReference(model, inputs);
            // One channel: k / 2 row-paired kernel rows, then an odd kernel's last row as (k − 1) / 2 column pairs and one
            // tap. Three channels: two channel pairs of k kernel rows each.
            var expected = inChannels == 1
                ? Enumerable.Repeat(row, k / 2).SelectMany(r => r).Concat(Enumerable.Repeat(SegmentKind.F1, k % 2 == 1 ? (k + 1) / 2 : 0))
                : Enumerable.Repeat(row, 2 * k).SelectMany(r => r);
            foreach (var path in SimdPaths())
            {
                var compiled = new CompiledModel(model, path);
                var convs = compiled.Ops.OfType<ConvParams>().ToList();
                Assert.Equal(expected, convs[0].ColumnPairs!.Kinds);
                // conv2: 2×2 kernels over 5 channels, 3 channel pairs of 2 rows.
                Assert.Equal(Enumerable.Repeat(SegmentKind.F2, 6), convs[1].ColumnPairs!.Kinds);
                Assert.Equal(reference, IntegerEngine.Run(compiled, inputs, threads: 1));
            }
        }
    }

    /// <summary>Minimal filtering is exact only while each transformed input (a sum or difference of two inputs) and
    /// weight (up to a sum of three) fits int16 and twice the accumulator bound fits int32; beyond, the direct int32
    /// kernel runs. conv1's weights all at the grid's most negative value, its inputs at either extreme (all at the
    /// most negative for the bound case, so the sums reach it). 14-bit inputs and weights still fit.</summary>
    [Theory]
    [InlineData(14, 14, 1, true)]    // |d − d'| ≤ 16383, |g0 + g1 + g2| = 3·8192, 2·9·8192² < 2^31
    [InlineData(15, 8, 1, false)]    // 15-bit inputs: 2·max|x| = 32768 is refused (signed sums would only just fit: the check is conservative)
    [InlineData(8, 15, 1, false)]    // 15-bit weights: g0 + g1 + g2 = −3·16384
    [InlineData(13, 13, 3, false)]   // the sums reach 75·4096² ≈ 1.26·10^9: int32, but 2y would not be
    public void Minimal_filtering_is_left_to_the_direct_kernel_where_its_values_would_not_fit(int inputBits, int weightBits, int inChannels, bool pairs)
    {
        int k = inChannels == 1 ? 3 : 5;
        var c = new Case(3, inChannels, k + 5, k + 5, k, 2, 2, 1, 3, 1, 5, 3, weightBits, 8, inputBits, RoundingMode.HalfEven, 0, BiasMode.None, false, true, 19);
        var (model, inputs) = Build(c);
        Array.Fill(model.Layers.First().Weights, (short)Quantizer.QMin(weightBits));
        var random = new Random(5);
        bool reachBound = inChannels == 3;
        for (int i = 0; i < inputs.Length; i++)
            inputs[i] = (short)(reachBound || random.Next(2) == 0 ? Quantizer.QMin(inputBits) : Quantizer.QMax(inputBits));
        var reference = IntegerEngine.RunReference(model, inputs);
        foreach (var path in SimdPaths())
        {
            var compiled = new CompiledModel(model, path);
            var conv1 = (ConvParams)compiled.Ops[0];
            Assert.Equal(AccumulatorKind.Int32, conv1.Dot.Kind);
            Assert.Equal(reference, IntegerEngine.Run(compiled, inputs, threads: 1));
            Assert.Equal(pairs, conv1.ColumnPairs != null);
        }
    }

    [Theory]
    [InlineData(8)]
    [InlineData(15)]
    [InlineData(16)]
    public void Unsigned_outputs_at_the_top_of_their_grid_match_the_reference(int actBits)
    {
        // Extreme weights and inputs push the ReLU outputs to the top of the unsigned grid (255 at 8 bits, 32,767 at
        // 15 bits, the largest int16; 65,535 at 16 bits, stored as 32,767 in an offset layout), which the next layer's
        // accumulator bound takes as xMax.
        var c = new Case(11, 2, 14, 14, 3, 6, 2, 3, 9, 2, 7, 4, 8, actBits, 8, RoundingMode.HalfAway, 0, BiasMode.None, true, true, 19, Unsigned: true);
        var (model, inputs) = Build(c);
        var reference = IntegerEngine.RunReference(model, inputs);
        Assert.Contains(model.Layers, l => !l.OutputSigned);
        Assert.Contains(reference, logit => logit != 0);
        foreach (var path in SimdPaths())
        {
            var compiled = new CompiledModel(model, path);
            Assert.Equal(actBits == 16, compiled.Ops.Any(op => op is ConvParams { Output.Offset: true }));
            Assert.Equal(reference, IntegerEngine.Run(compiled, inputs, threads: 1));
        }
    }

    [Fact]
    public void Sixteen_bit_weights_with_large_values_take_a_wide_kernel_and_still_match()
    {
        // Weights all −32768 against 16-bit inputs: a single weight pair reaches 2·2^30 = 2^31, so no layer
        // may run in int32 accumulators.
        var c = new Case(7, 2, 12, 12, 3, 4, 2, 3, 5, 1, 6, 3, 16, 16, 16, RoundingMode.HalfEven, 0, BiasMode.Int32, true, true, 21);
        var (model, inputs) = Build(c);
        foreach (var path in SimdPaths())
        {
            var compiled = new CompiledModel(model, path);
            var kinds = compiled.Ops.Select(op => op switch { ConvParams p => p.Dot.Kind, LinearParams p => p.Dot.Kind, _ => (AccumulatorKind?)null })
                .OfType<AccumulatorKind>().ToList();
            Assert.DoesNotContain(AccumulatorKind.Int32, kinds);
            Assert.Equal(IntegerEngine.RunReference(model, inputs), IntegerEngine.Run(compiled, inputs, threads: 1));
        }
    }

    /// <summary>Layers just beyond int32 (14 bits, uniform random weights: about 30 taps per int32 chunk) run in int32 chunks
    /// widened into int64, without splitting their inputs; at 16 bits (a chunk of 1 or 2 taps) they split their inputs.</summary>
    [Theory]
    [InlineData(14, AccumulatorKind.ChunkedInt32)]
    [InlineData(16, AccumulatorKind.SplitInt64)]
    public void Layers_just_beyond_int32_run_in_int32_chunks_and_still_match(int bits, AccumulatorKind expected)
    {
        // conv2 (75 pair taps, a fused 2×2 pool: the 4-position window kernel) and fc1 (one position) are the wide layers.
        var c = new Case(5, 2, 14, 14, 3, 6, 2, 5, 8, 2, 10, 4, bits, bits, bits, RoundingMode.HalfEven, 0, BiasMode.Int32, true, false, 21);
        var (model, inputs) = Build(c);
        var reference = IntegerEngine.RunReference(model, inputs);
        Assert.True(reference.Distinct().Count() > 10, "the logits vary");
        foreach (var path in SimdPaths())
        {
            var compiled = new CompiledModel(model, path);
            var dots = compiled.Ops.Select(op => op switch { ConvParams p => p.Dot, LinearParams p => p.Dot, _ => null }).OfType<PackedDot>().ToList();
            // Several chunks in the pooled conv: their int64 additions are exercised.
            Assert.Contains(compiled.Ops, op => op is ConvParams { Pool: 2 } conv && conv.Dot.Kind == expected
                && (expected != AccumulatorKind.ChunkedInt32 || conv.Dot.ChunkEnds.Any(ends => ends.Length > 1)));
            Assert.DoesNotContain(dots, d => d.Kind == (expected == AccumulatorKind.ChunkedInt32 ? AccumulatorKind.SplitInt64 : AccumulatorKind.ChunkedInt32));
            Assert.Equal(reference, IntegerEngine.Run(compiled, inputs, threads: 1));
        }
    }

    [Fact]
    public void A_bound_beyond_exact_double_conversion_takes_the_scalar_int64_kernel()
    {
        // Σ|w|·xMax = (2^21 + 2^8)·32767·32768 ≥ 2^51: the chunked kernel's int64 → double step would not be exact.
        int fanIn = (1 << 21) + (1 << 8);
        var weights = new short[fanIn];
        Array.Fill(weights, short.MaxValue);
        var layer = new IntLayer("fc")
        {
            Shape = LinearShape.Instance, InChannels = fanIn, OutChannels = 1, Weights = weights, WeightBits = 16, WeightScale = [1.0],
            InputScale = 1, OutputScale = 1, OutputBits = 16, Relu = false, Bias = NoBias.Instance, Requant = new FloatRequant([1e-12]),
        };
        var model = new IntModel(RoundingMode.Floor, 16, 1.0, [new IntFlatten("flatten"), layer]) { InputShape = [fanIn, 1, 1] };
        var inputs = new short[fanIn];
        Array.Fill(inputs, short.MinValue);
        foreach (var path in SimdPaths())
        {
            var compiled = new CompiledModel(model, path);
            Assert.Equal(AccumulatorKind.ScalarInt64, ((LinearParams)compiled.Ops[0]).Dot.Kind);
            Assert.Equal(IntegerEngine.RunReference(model, inputs), IntegerEngine.Run(compiled, inputs, threads: 1));
        }
    }

    /// <summary>A random network and inputs for <paramref name="c"/>, deterministic in its seed.</summary>
    internal static (IntModel Model, short[] Inputs) Build(Case c)
    {
        var random = new Random(c.Seed);
        int h = c.Height, w = c.Width;
        var ops = new List<IntOp>();
        int channels = c.InChannels, inBits = c.InputBits;
        ops.Add(Layer("conv1", true, channels, c.C1, c.K1, inBits, c.ActBits, true));
        (channels, h, w) = (c.C1, h - c.K1 + 1, w - c.K1 + 1);
        if (c.Pool1 > 1) { ops.Add(new IntMaxPool("pool1", c.Pool1)); (h, w) = (h / c.Pool1, w / c.Pool1); }
        ops.Add(Layer("conv2", true, channels, c.C2, c.K2, c.ActBits, c.ActBits, random.Next(2) == 0));
        (channels, h, w) = (c.C2, h - c.K2 + 1, w - c.K2 + 1);
        if (c.Pool2 > 1) { ops.Add(new IntMaxPool("pool2", c.Pool2)); (h, w) = (h / c.Pool2, w / c.Pool2); }
        ops.Add(new IntFlatten("flatten"));
        ops.Add(Layer("fc1", false, channels * h * w, c.Fc1, 1, c.ActBits, c.ActBits, true));
        ops.Add(Layer("fc2", false, c.Fc1, c.Fc2, 1, c.ActBits, c.ActBits, false));
        var model = new IntModel(c.Rounding, c.InputBits, 1.0, ops) { InputShape = [c.InChannels, c.Height, c.Width] };

        int size = c.InChannels * c.Height * c.Width;
        var inputs = new short[c.Images * size];
        for (int i = 0; i < inputs.Length; i++) inputs[i] = (short)Value(inBits);
        return (model, inputs);

        int Value(int bits)
        {
            int min = Quantizer.QMin(bits), max = Quantizer.QMax(bits);
            return c.Extreme && random.Next(2) == 0 ? (random.Next(2) == 0 ? min : max) : random.Next(min, max + 1);
        }

        IntLayer Layer(string name, bool conv, int cin, int cout, int k, int inputBits, int outputBits, bool relu)
        {
            int fanIn = cin * k * k;
            var weights = new short[cout * fanIn];
            for (int i = 0; i < weights.Length; i++) weights[i] = (short)Value(c.WeightBits);
            // Multipliers that keep outputs inside the grid often but not always: about 2^(out−1) for a typical
            // accumulator of √fanIn·2^(wb−1)·2^(in−1)/4, times a random factor of 1/16 .. 16.
            double typical = Math.Sqrt(fanIn) * Math.ScaleB(1, c.WeightBits - 1) * Math.ScaleB(1, inputBits - 1) / 4;
            double Multiplier() => Math.ScaleB(1, outputBits - 1) / typical * Math.Pow(2, random.NextDouble() * 8 - 4);
            double shared = Multiplier();
            var m = Enumerable.Range(0, cout).Select(_ => c.PerChannel ? Multiplier() : shared).ToArray();
            // Dyadic multipliers now and then, so that ties of the rounding modes occur.
            if (random.Next(4) == 0) m = m.Select(x => Math.ScaleB(1, Math.ILogB(x))).ToArray();
            LayerBias bias = c.Bias switch
            {
                BiasMode.Int32 => new Int32Bias(Enumerable.Range(0, cout).Select(_ => c.Extreme ? random.Next(int.MinValue, int.MaxValue) : (int)(random.NextDouble() * 2 - 1) * (int)Math.Min(int.MaxValue, typical * 4)).ToArray()),
                // A float bias is added by float requantization only (the export refuses it with fixed-point).
                BiasMode.Float when c.Precision == 0 => new FloatBias(Enumerable.Range(0, cout).Select(_ => (random.NextDouble() * 2 - 1) * Math.ScaleB(1, outputBits)).ToArray()),
                _ => NoBias.Instance,
            };
            LayerRequant requant = new FloatRequant(m);
            if (c.Precision > 0)
            {
                var fixedPoint = m.Select(x => FixedPointMultiplier.Derive(x, c.Precision)).ToArray();
                requant = new FixedPointRequant(c.Precision, fixedPoint.Select(f => f.M0).ToArray(), fixedPoint.Select(f => f.Shift).ToArray());
            }
            return new IntLayer(name)
            {
                Shape = conv ? new Conv2dShape(k) : LinearShape.Instance, InChannels = cin, OutChannels = cout, Weights = weights,
                WeightBits = c.WeightBits, WeightScale = [1.0], InputScale = 1.0, OutputScale = 1.0, OutputBits = outputBits, Relu = relu,
                Bias = bias, Requant = requant, OutputSigned = !(c.Unsigned && relu),
            };
        }
    }
}

namespace QuantLab.Actors; internal static class Placeholder { }

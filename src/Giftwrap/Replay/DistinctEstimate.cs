// Roughly how many distinct values went past, in fixed memory: HyperLogLog (Flajolet,
// Fusy, Gandouet, Meunier 2007) over 2^14 one-byte registers, about 1% error. Replay uses
// it for the connections it no longer holds one by one; hashing the values is the caller's.
using System.Numerics;

namespace Giftwrap.Replay;

/// <summary>An estimate of a count of distinct values, 16 KiB whatever the count.</summary>
internal sealed class DistinctEstimate
{
    private const int IndexBits = 14;
    private readonly byte[] _registers = new byte[1 << IndexBits];

    /// <summary>Counts a value by its hash (equal values must give equal hashes).</summary>
    public void Add(int hash)
    {
        var h = Mix((uint)hash);
        var index = h >> (32 - IndexBits);
        // The sentinel bit keeps the rank within the bits left after the index.
        var rank = (byte)(BitOperations.LeadingZeroCount((h << IndexBits) | (1u << (IndexBits - 1))) + 1);
        if (rank > _registers[index])
            _registers[index] = rank;
    }

    /// <summary>The estimate; small counts use linear counting, where HyperLogLog is biased.</summary>
    public long Count()
    {
        double m = _registers.Length, sum = 0;
        var zeros = 0;
        foreach (var r in _registers)
        {
            sum += Math.ScaleB(1.0, -r);
            if (r == 0)
                zeros++;
        }
        var estimate = 0.7213 / (1 + (1.079 / m)) * m * m / sum;
        if (estimate <= 2.5 * m && zeros > 0)
            estimate = m * Math.Log(m / zeros);
        return (long)Math.Round(estimate);
    }

    // Murmur3's finaliser: the record hashes combine fields linearly, the registers want every bit mixed.
    private static uint Mix(uint h)
    {
        h ^= h >> 16;
        h *= 0x85ebca6b;
        h ^= h >> 13;
        h *= 0xc2b2ae35;
        return h ^ (h >> 16);
    }
}

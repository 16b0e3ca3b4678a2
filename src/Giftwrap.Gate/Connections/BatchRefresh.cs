// One check of the tables' files for a batch of connections accepted together, made at the first
// decision the event loop makes for the batch (after the whole batch was accepted, so that a change
// made before any connection of it is seen by its decision). Tables other than the checked ones
// (a reload in the middle of a batch) are checked again; a check that could not be made without a
// wait leaves each decision to check for itself, as before.
using Giftwrap.Tables;

namespace Giftwrap.Gate.Connections;

internal struct BatchRefresh
{
    private AccessTables? _tables;
    private bool _fresh;

    /// <summary>Whether <paramref name="tables"/> took in every change made before the batch was accepted (checked now if not yet).</summary>
    public bool Of(AccessTables tables)
    {
        if (!ReferenceEquals(_tables, tables))
        {
            _tables = tables;
            _fresh = tables.TryRefreshWithoutWaiting();
        }
        return _fresh;
    }
}

namespace QuantLab.Actors.Messages;

/// <summary>
/// Marks every persisted event and remote message. Serialization binds this interface to
/// <c>QuantLabSerializer</c> (explicit, versioned manifests), never to Akka's default JSON serializer.
/// </summary>
public interface IQuantLabMessage;

/// <summary>Events the coordinator persists; <c>CoordinatorState.Apply</c> folds them.</summary>
public interface ICoordinatorEvent : IQuantLabMessage
{
    DateTimeOffset At { get; }
}

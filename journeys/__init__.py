"""What journeys do, behind their Temporal activities (activities/journeys.py): plan entry
cycles, admit participants, and interpret each journey activity a participant reaches.

- `planning`: when a journey admits (its entry window, the next entry cycle) and what its
  workflow does next;
- `admission`: a page of segment members, or one event's endpoint, admitted under the journey's
  rules (the re-entry rules themselves are the store's admission transaction);
- `steps`: one participant at one journey activity (`Step`): waits, random splits, holdouts,
  and the step recorded; `messages` (EMAIL, SMS, PUSH, CUSTOM) and `splits` (ConditionalSplit,
  MultiCondition) interpret the rest;
- `context`: what the steps of every participant on one worker share (the database, the
  Deliverer, one-second reads, MessagesPerSecond pacers); `times`: instants and time zones.

Nothing here talks to Temporal's client (engine/journeys.py does, for the activities) or is
an activity itself: the attempt number an activity runs is handed in.
"""

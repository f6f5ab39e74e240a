"""Provider clients: how OpenPoint reaches the services that deliver (today: AWS Lambda)."""

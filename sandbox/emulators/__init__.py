"""Local emulators of the external APIs (Creatio; later Intacct and Dataverse), each a
Starlette app wrapped in the shared fault layer (`knobs.FaultLayer`) and run by
`server.EmulatorServer`. Local only; never deployed."""

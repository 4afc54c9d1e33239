"""Table and queue storage: clients, flow and run repositories, queue messages."""

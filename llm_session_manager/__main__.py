from llm_session_manager.cli import main

if __name__ == "__main__":
    main()
